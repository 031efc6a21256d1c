"""Tests of nep_core.classify: declared tables, exact boundaries, natural breaks, persistence."""
from __future__ import annotations

import mapclassify
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


def test_natural_breaks_matches_mapclassify_and_is_seeded():
    rng = np.random.default_rng(1)
    v = xr.DataArray(np.concatenate([rng.normal(m, 0.02, 200) for m in (0.1, 0.2, 0.35, 0.5, 0.8)]), dims="p")
    e = classify.natural_breaks(v, k=5, sample=10_000)
    np.testing.assert_allclose(e[1:], mapclassify.FisherJenks(v.values, k=5).bins)
    big = xr.DataArray(rng.gamma(2, 0.1, 5000), dims="p")
    a = classify.natural_breaks(big, k=4, sample=800, seed=3)
    b = classify.natural_breaks(big, k=4, sample=800, seed=3)
    np.testing.assert_array_equal(a, b)
    cls = classify.classify_breaks(v, e, names=classify.CV_CLASS_NAMES)
    np.testing.assert_array_equal(cls.values, mapclassify.FisherJenks(v.values, k=5).yb + 1)
    edge = classify.classify_breaks(xr.DataArray([e[1], e[1] + 1e-9, -10, 10, np.nan], dims="p"), e)
    assert edge.values.tolist() == [1, 2, 1, 5, 0]          # upper bound inclusive, ends open
    with pytest.raises(NepInputError, match="no finite"):
        classify.natural_breaks(xr.DataArray([np.nan, np.nan], dims="p"))


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
