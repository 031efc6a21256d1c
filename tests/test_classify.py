"""Tests of nep_core.classify: declared tables, exact boundaries, natural breaks, persistence."""
from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from nep_core import classify
from nep_core.errors import NepInputError


def _trend(slope, z, p=None):
    d = {"slope": ("p", np.asarray(slope, float)), "z": ("p", np.asarray(z, float))}
    if p is not None:
        d["p"] = ("p", np.asarray(p, float))
    return xr.Dataset(d)


def test_trend_class_table_boundaries_strict():
    """Strict > on |Z| at 1.645 / 1.960 / 2.576; stable = |slope| < eps; opposite-sign Z = non-significant."""
    z = [1.645, 1.6451, 1.96, 1.9601, 2.576, 2.5761, -1.645, -1.6451, -2.5761, -3.0, 3.0, np.nan, 1.0]
    slope = [1, 1, 1, 1, 1, 1, -1, -1, -1, 0.49, 1, 1, -1]
    c = classify.trend_class(_trend(slope, z), eps=0.5)
    assert c.values.tolist() == [6, 7, 7, 8, 8, 9, 4, 3, 1, 5, 9, 0, 4]
    assert c.dtype == np.int8 and c.attrs["eps"] == 0.5
    assert c.attrs["flag_meanings"].split() == classify.TREND_CLASSES.name[1:].tolist()
    assert np.isnan(classify.trend_class(_trend([np.nan], [1.0])).values.astype(float)).sum() == 0


def test_trend_class_table_is_data_for_the_book():
    t = classify.TREND_CLASSES
    assert t.code.tolist() == list(range(10)) and {"code", "name", "label", "rule"} <= set(t.columns)
    with pytest.raises(NepInputError, match="thresholds"):
        classify.trend_class(_trend([1], [1]), thresholds=(2.0, 1.0, 3.0))


def test_nep_class_edges_and_units():
    da = xr.DataArray([-0.1, 0.0, 199.99, 200.0, 399.9, 400.0, np.nan], dims="p", attrs={"units": "g C m-2 a-1"})
    assert classify.nep_class(da).values.tolist() == [1, 2, 2, 3, 3, 4, 0]
    with pytest.raises(NepInputError, match="units"):
        classify.nep_class(da.assign_attrs(units="kg C m-2 a-1"))


def _class_ss(x, edges):
    """Total within-class sum of squares of x under the upper-bound convention of the edges."""
    cls = np.searchsorted(edges[1:-1], x, side="left")
    return sum(np.sum((x[cls == c] - x[cls == c].mean()) ** 2) for c in np.unique(cls))


def _cumsums(x):
    return np.concatenate([[0.0], np.cumsum(x)]), np.concatenate([[0.0], np.cumsum(x * x)])


def _dp_brute(x, k):
    """Fisher (1958) exact dynamic programme, O(k n^2): least within-class SS of sorted x in k
    contiguous classes, and the upper bounds of those classes."""
    x = np.sort(x)
    n = x.size
    c1, c2 = _cumsums(x)
    d = np.full((k + 1, n + 1), np.inf)
    d[0, 0] = 0.0
    arg = np.zeros((k + 1, n + 1), int)
    for c in range(1, k + 1):
        for j in range(c, n + 1):
            i = np.arange(c - 1, j)
            v = d[c - 1, i] + (c2[j] - c2[i]) - (c1[j] - c1[i]) ** 2 / (j - i)
            arg[c, j] = i[np.argmin(v)]
            d[c, j] = v.min()
    ends, j = [], n
    for c in range(k, 0, -1):
        ends.append(x[j - 1])
        j = arg[c, j]
    return d[k, n], np.array(ends[::-1])


def _dp_divide_conquer(x, k):
    """The same optimum in O(k n log n): the best split point is monotone in the class end
    (the squared-deviation cost satisfies the quadrangle inequality), so each layer is solved by
    divide and conquer."""
    x = np.sort(x)
    n = x.size
    c1, c2 = _cumsums(x)
    j = np.arange(n + 1)
    prev = np.full(n + 1, np.inf)
    prev[1:] = c2[1:] - c1[1:] ** 2 / j[1:]
    for c in range(2, k + 1):
        cur = np.full(n + 1, np.inf)
        stack = [(c, n, c - 1, n - 1)]
        while stack:
            lo, hi, olo, ohi = stack.pop()
            if lo > hi:
                continue
            mid = (lo + hi) // 2
            i = np.arange(olo, min(mid - 1, ohi) + 1)
            v = prev[i] + (c2[mid] - c2[i]) - (c1[mid] - c1[i]) ** 2 / (mid - i)
            b = int(np.argmin(v))
            cur[mid] = v[b]
            stack += [(lo, mid - 1, olo, i[b]), (mid + 1, hi, i[b], ohi)]
        prev = cur
    return prev[n]


@pytest.mark.parametrize("seed", range(8))
def test_natural_breaks_is_the_least_squares_optimum(seed):
    """Hypothesis: the edges are the exact Fisher-Jenks optimum: their within-class SS equals the
    brute-force dynamic programme's minimum, and so do the class upper bounds (small samples,
    with clusters, skew and ties)."""
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(12, 60)), int(rng.integers(2, 7))
    x = {0: lambda: rng.gamma(2.0, 0.1, n), 1: lambda: rng.normal(size=n),
         2: lambda: np.round(rng.normal(size=n), 1)}[seed % 3]()
    e = classify.natural_breaks(xr.DataArray(x, dims="p"), k=k)
    best, ends = _dp_brute(x, k)
    assert _class_ss(x, e) == pytest.approx(best, rel=1e-10, abs=1e-12)
    np.testing.assert_allclose(e[1:], ends)
    assert e[0] == x.min() and e[-1] == x.max()


def test_natural_breaks_optimal_at_the_default_sample():
    """At the default sample (20 000 of 60 000 skewed, Cv-like values, the pipeline's seed) the
    edges reach the exact optimum of the sampled values (divide-and-conquer dynamic programme; the
    sample-size case where mapclassify 2.10 FisherJenks missed it)."""
    from nep_core.config import Stats

    st = Stats()
    rng = np.random.default_rng(5)
    v = np.concatenate([rng.gamma(3.0, 0.05, 50_000), rng.gamma(9.0, 0.06, 10_000)])
    e = classify.natural_breaks(xr.DataArray(v, dims="p"), k=st.n_breaks, sample=st.breaks_sample, seed=1)
    s = np.random.default_rng(1).choice(v, size=st.breaks_sample, replace=False)
    assert e[0] == s.min() and e[-1] == s.max()
    assert _class_ss(s, e) == pytest.approx(_dp_divide_conquer(s, st.n_breaks), rel=1e-10)


def test_natural_breaks_seeded_and_class_convention():
    rng = np.random.default_rng(1)
    v = xr.DataArray(np.concatenate([rng.normal(m, 0.01, 200) for m in (0.1, 0.2, 0.35, 0.5, 0.8)]), dims="p")
    e = classify.natural_breaks(v, k=5, sample=10_000)
    big = xr.DataArray(rng.gamma(2, 0.1, 5000), dims="p")
    a = classify.natural_breaks(big, k=4, sample=800, seed=3)
    b = classify.natural_breaks(big, k=4, sample=800, seed=3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, classify.natural_breaks(big, k=4, sample=800, seed=4))
    cls = classify.classify_breaks(v, e, names=classify.CV_CLASS_NAMES)
    # the five clusters are far apart: each is one class, in order
    np.testing.assert_array_equal(cls.values, np.repeat(np.arange(1, 6), 200))
    edge = classify.classify_breaks(xr.DataArray([e[1], e[1] + 1e-9, -10, 10, np.nan], dims="p"), e)
    assert edge.values.tolist() == [1, 2, 1, 5, 0]          # upper bound inclusive, ends open
    with pytest.raises(NepInputError, match="no finite"):
        classify.natural_breaks(xr.DataArray([np.nan, np.nan], dims="p"))
    with pytest.raises(NepInputError, match="distinct"):
        classify.natural_breaks(xr.DataArray([1.0, 1.0, 2.0], dims="p"), k=3)


def test_persistence_class_rules_and_threshold():
    tr = _trend([2, 2, -2, -2, 0.1, 2, np.nan, 2], [3, 3, -3, -3, 0, 0.5, 1, 3], [0.001] * 5 + [0.6, 0.1, 0.001])
    h = xr.DataArray([0.7, 0.3, 0.3, 0.7, 0.7, 0.7, 0.7, 0.5], dims="p")
    c = classify.persistence_class(tr, h, threshold=0.5)
    assert c.values.tolist() == [1, 2, 3, 4, 5, 1, 0, 5]
    sig = classify.persistence_class(tr, h, direction="significant")
    assert sig.values.tolist() == [1, 2, 3, 4, 5, 5, 0, 5]
    cal = classify.persistence_class(tr, h, threshold=0.8)      # calibrated null quantile
    assert cal.values.tolist() == [2, 2, 3, 3, 5, 2, 0, 2]
    from_codes = classify.persistence_class(classify.trend_class(tr), h)
    assert from_codes.values.tolist()[:6] == [1, 2, 3, 4, 5, 1]
    assert c.attrs["flag_meanings"].split()[0] == "continuous_increase"
    with pytest.raises(NepInputError, match="grids differ"):
        classify.persistence_class(tr, h.assign_coords(p=np.arange(8) + 1))
