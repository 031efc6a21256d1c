"""Tests of cv, hurst_rs, hurst_null_quantiles, partial_corr and fdr."""
from __future__ import annotations

import nolds
import numpy as np
import pandas as pd
import pingouin as pg
import pytest
import scipy.stats as ss
import xarray as xr
from hypothesis import given
from hypothesis import strategies as st

from nep_core import reasons
from nep_core.errors import NepInputError
from nep_core.stats import cv, fdr, hurst_null_quantiles, hurst_rs, partial_corr

from oracles import hurst_prefix
from strategies import YEARS, as_da, noisy_series, series

RNG = np.random.default_rng(99)


# ------------------------------------------------------------------------------------------ Cv
def test_cv_exact_and_reasons():
    y = np.vstack([100 + RNG.normal(size=24), -5 + RNG.normal(size=24), np.full(24, 3.0),
                   np.full(24, np.nan), 100 + RNG.normal(size=24)])
    y[4, 2] = np.inf
    r = cv(as_da(y), min_mean=10.0)
    assert float(r.cv[0]) == pytest.approx(np.std(y[0]) / np.mean(y[0]), rel=1e-12)
    assert r.reason.values.tolist() == [reasons.VALID, reasons.NONPOSITIVE_MEAN, reasons.NONPOSITIVE_MEAN,
                                        reasons.ALL_NAN, reasons.NON_FINITE_INPUT]
    assert np.isnan(r.cv.values[1:]).all() and r.cv.attrs["units"] == "1"
    r1 = cv(as_da(y[:1]), ddof=1)
    assert float(r1.cv[0]) == pytest.approx(np.std(y[0], ddof=1) / np.mean(y[0]), rel=1e-12)


@given(series(min_value=10, max_value=1000), st.floats(0.01, 1e3))
def test_cv_scale_invariant(y, a):
    r0, r1 = cv(as_da(y), min_mean=0.0), cv(as_da(a * y), min_mean=0.0)
    assert float(r1.cv) == pytest.approx(float(r0.cv), rel=1e-9)


# -------------------------------------------------------------------------------------- Hurst
def test_hurst_alp_matches_nolds():
    """'alp' == nolds.hurst_rs(corrected=True, fit='poly') with nolds' default nvals (3..7 at n=24)."""
    y = RNG.normal(size=(20, 24)).cumsum(axis=1) * 0.3 + RNG.normal(size=(20, 24))
    h = hurst_rs(as_da(y), method="alp")
    ref = [nolds.hurst_rs(row, corrected=True, fit="poly") for row in y]
    np.testing.assert_allclose(h.hurst.values, ref, rtol=1e-10)
    h2 = hurst_rs(as_da(y[:3]), method="alp", nvals=[2, 3, 4, 6, 8, 12])
    ref2 = [nolds.hurst_rs(row, nvals=[2, 3, 4, 6, 8, 12], corrected=True, fit="poly") for row in y[:3]]
    np.testing.assert_allclose(h2.hurst.values, ref2, rtol=1e-10)


def test_hurst_prefix_and_diff_match_reference():
    y = RNG.normal(size=(10, 24))
    np.testing.assert_allclose(hurst_rs(as_da(y), method="prefix").hurst.values,
                               [hurst_prefix(r) for r in y], rtol=1e-10)
    np.testing.assert_allclose(hurst_rs(as_da(y), method="diff").hurst.values,
                               [hurst_prefix(np.diff(r)) for r in y], rtol=1e-10)


@pytest.mark.parametrize("method", ["prefix", "diff", "alp"])
@given(y=series(min_value=-100, max_value=100), ab=st.tuples(st.floats(0.01, 100), st.floats(-1e3, 1e3)))
def test_hurst_shift_scale_invariant(method, y, ab):
    a, b = ab
    h0 = float(hurst_rs(as_da(y), method=method).hurst)
    h1 = float(hurst_rs(as_da(a * y + b), method=method).hurst)
    assert h1 == pytest.approx(h0, abs=1e-8)


def test_hurst_regimes_white_noise_random_walk_antipersistent():
    """METHODS: n = 24 white noise -> prefix ~0.64, diff ~0.39; persistent (random walk) higher,
    anti-persistent (negatively autocorrelated) lower, for every estimator."""
    rng = np.random.default_rng(2024)
    wn = rng.standard_normal((3000, 24))
    rw = wn.cumsum(axis=1)
    anti = wn.copy()
    anti[:, 1:] -= 0.7 * wn[:, :-1]          # MA(1) with negative coefficient
    means = {m: [float(hurst_rs(as_da(x), method=m).hurst.mean()) for x in (wn, rw, anti)]
             for m in ("prefix", "diff", "alp")}
    assert means["prefix"][0] == pytest.approx(0.64, abs=0.02)
    assert means["diff"][0] == pytest.approx(0.39, abs=0.02)
    assert means["alp"][0] == pytest.approx(0.5, abs=0.05)
    for m, (w, r, a) in means.items():
        assert r > w + 0.1 and a < w - 0.05, (m, means[m])


def test_hurst_null_quantiles_seeded_and_consistent():
    a = hurst_null_quantiles(24, "prefix", n_sims=4000, seed=5)
    b = hurst_null_quantiles(24, "prefix", n_sims=4000, seed=5)
    pd.testing.assert_frame_equal(a, b)
    q = a.set_index("statistic")
    assert q.loc["mean", "hurst"] == pytest.approx(0.64, abs=0.02)
    qs = a[a.statistic == "quantile"].hurst.to_numpy()
    assert np.all(np.diff(qs) > 0) and qs[-1] > 0.75          # q95 far above the 0.5 rule
    x = np.random.default_rng(5).standard_normal((4000, 24))
    direct = hurst_rs(as_da(x), method="prefix", min_valid=4).hurst.values
    np.testing.assert_allclose(qs, np.quantile(direct, [0.05, 0.5, 0.95]), rtol=1e-12)


def test_min_valid_default_relative_in_every_wrapper():
    """cv, hurst_rs and partial_corr use ceil(0.8 n) years by default as sen_mk does (a 12-year
    series is not masked wholesale) and state the rule on their outputs."""
    nep, drv = _drivers(n=12, npix=4)
    nep = nep.copy()
    nep[1, :2] = np.nan                       # 10 of 12: kept
    nep[2, :3] = np.nan                       # 9 of 12: too few
    rule = "ceil(0.8 * n_years) = 10 (n_years = 12)"
    expect = [reasons.VALID, reasons.VALID, reasons.TOO_FEW_VALID, reasons.VALID]
    c = cv(nep + 1000)
    h = hurst_rs(nep)
    p = partial_corr(nep, drv)
    for out, keys in ((c, ("reason",)), (h, ("reason",)), (p, ("reason", "r_tmean", "p_rad"))):
        assert out.reason.values.tolist() == expect
        assert out.attrs["min_valid"] == 10 and out.attrs["min_valid_rule"] == rule
        for k in keys:
            assert out[k].attrs["min_valid_rule"] == rule
    assert partial_corr(nep, drv, min_valid=9).reason.values.tolist() == [reasons.VALID] * 4
    with pytest.raises(NepInputError, match="too small"):
        partial_corr(nep, drv, min_valid=4)        # 2 controls need >= 5 years


def test_hurst_reasons():
    y = np.vstack([np.full(24, 2.0), np.full(24, np.nan), RNG.normal(size=24)])
    y[2, :10] = np.nan
    r = hurst_rs(as_da(y))
    assert r.reason.values.tolist() == [reasons.CONSTANT, reasons.ALL_NAN, reasons.TOO_FEW_VALID]
    assert np.isnan(r.hurst.values).all()
    with pytest.raises(NepInputError, match="method"):
        hurst_rs(as_da(y), method="dfa")


# -------------------------------------------------------------------------- partial correlation
def _drivers(n=24, npix=30, seed=3):
    rng = np.random.default_rng(seed)
    t, p, r = rng.normal(size=(3, npix, n))
    p += 0.5 * t
    nep = 0.6 * t + 0.3 * p - 0.4 * r + rng.normal(size=(npix, n))
    mk = lambda a, u: as_da(a * {"degC": 1, "mm a-1": 300, "MJ m-2 a-1": 5000}.get(u, 1), units=u)
    return as_da(100 * nep), {"tmean": mk(t, "degC"), "prcp": mk(p + 1, "mm a-1"), "rad": mk(r + 1, "MJ m-2 a-1")}


def _lstsq_partial(y, x, z):
    Z = np.column_stack([np.ones(len(y)), z])
    ry = y - Z @ np.linalg.lstsq(Z, y, rcond=None)[0]
    rx = x - Z @ np.linalg.lstsq(Z, x, rcond=None)[0]
    return np.corrcoef(ry, rx)[0, 1]


def test_partial_corr_matches_pingouin_and_lstsq():
    nep, drv = _drivers()
    res = partial_corr(nep, drv)
    names = list(drv)
    for i in range(5):
        df = pd.DataFrame({"nep": nep.values[i], **{k: v.values[i] for k, v in drv.items()}})
        for k in names:
            others = [o for o in names if o != k]
            pgr = pg.partial_corr(df, x=k, y="nep", covar=others)
            pcol = "p_val" if "p_val" in pgr.columns else "p-val"
            np.testing.assert_allclose(float(res[f"r_{k}"][i]), pgr["r"].iloc[0], rtol=1e-9)
            np.testing.assert_allclose(float(res[f"p_{k}"][i]), pgr[pcol].iloc[0], rtol=1e-7)
            ref = _lstsq_partial(df.nep.to_numpy(), df[k].to_numpy(), df[others].to_numpy())
            np.testing.assert_allclose(float(res[f"r_{k}"][i]), ref, rtol=1e-9)
            # METHODS: t = r sqrt((n-2-k)/(1-r^2)), df = n - 2 - k = 20
            rr = float(res[f"r_{k}"][i])
            tt = rr * np.sqrt(20 / (1 - rr ** 2))
            assert float(res[f"p_{k}"][i]) == pytest.approx(2 * ss.t.sf(abs(tt), 20), rel=1e-9)


def test_partial_corr_listwise_gridded_and_dask():
    nep, drv = _drivers(npix=12)
    nep = nep.copy()
    nep[0, 3] = np.nan
    drv["rad"] = drv["rad"].copy()
    drv["rad"][0, 7] = np.nan
    res = partial_corr(nep, drv)
    assert int(res.n_valid[0]) == 22 and int(res.n_valid[1]) == 24
    keep = np.isfinite(nep.values[0]) & np.isfinite(drv["rad"].values[0])
    single = partial_corr(nep[0][keep], {k: v[0][keep] for k, v in drv.items()})
    assert float(res.r_tmean[0]) == pytest.approx(float(single.r_tmean), rel=1e-12)
    dres = partial_corr(nep.chunk({"pixel": 5}), {k: v.chunk({"pixel": 5}) for k, v in drv.items()}).compute()
    for name in res.data_vars:
        np.testing.assert_allclose(res[name].values, dres[name].values, rtol=1e-12)


@given(noisy_series(), noisy_series(), noisy_series(), st.tuples(st.floats(0.01, 1e3), st.floats(-1e3, 1e3)))
def test_partial_corr_bounded_and_affine_invariant(y, x1, x2, ab):
    a, b = ab
    r0 = partial_corr(as_da(y), {"x1": as_da(x1), "x2": as_da(x2)})
    r1 = partial_corr(as_da(y), {"x1": as_da(a * x1 + b), "x2": as_da(x2)})
    v0 = float(r0.r_x1)
    if int(r0.reason) != reasons.VALID:        # e.g. identical draws: singular matrix, flagged
        assert int(r0.reason) == reasons.CONSTANT and np.isnan(v0)
        return
    assert -1.0 <= v0 <= 1.0 and 0.0 <= float(r0.p_x1) <= 1.0
    assert float(r1.r_x1) == pytest.approx(v0, abs=1e-7)


def test_partial_corr_bad_input_and_reasons():
    nep, drv = _drivers(npix=4)
    nep = nep.copy()
    drv = {k: v.copy() for k, v in drv.items()}
    drv["tmean"][1] = 5.0                       # zero variance
    drv["prcp"][2] = np.nan                     # driver missing at pixel
    drv["rad"][3, 0] = np.inf
    res = partial_corr(nep, drv)
    assert res.reason.values.tolist() == [reasons.VALID, reasons.CONSTANT, reasons.NO_COVARIATE,
                                          reasons.NON_FINITE_INPUT]
    assert np.isnan(res.r_rad.values[1:]).all()
    with pytest.raises(NepInputError, match="coordinate 'year' differs"):
        partial_corr(nep, {**drv, "rad": drv["rad"].assign_coords(year=YEARS + 1)})
    with pytest.raises(NepInputError, match="dims"):
        partial_corr(nep, {**drv, "rad": drv["rad"].isel(pixel=0)})
    with pytest.raises(NepInputError, match="non-empty"):
        partial_corr(nep, {})
    # perfectly collinear drivers: singular correlation matrix -> NaN with a reason, never |r| > 1
    res2 = partial_corr(nep[[0]], {"a": drv["tmean"][[0]], "b": 2 * drv["tmean"][[0]] + 1})
    assert int(res2.reason[0]) == reasons.CONSTANT and np.isnan(float(res2.r_a[0]))


# ------------------------------------------------------------------------------------------ FDR
def test_fdr_matches_scipy_and_excludes_nan():
    p = RNG.uniform(size=(20, 20)) ** 3
    p[0, :5] = np.nan
    da = xr.DataArray(p, dims=("y", "x"))
    sig = fdr(da, alpha=0.1)
    fin = np.isfinite(p)
    expected = ss.false_discovery_control(p[fin], method="bh") <= 0.1
    np.testing.assert_array_equal(sig.values[fin], expected)
    assert not sig.values[~fin].any() and sig.attrs["m"] == 395 and sig.attrs["method"] == "bh"
    assert sig.sum() < (da < 0.1).sum()
    with pytest.raises(NepInputError, match=r"\[0, 1\]"):
        fdr(da + 1)


def test_fdr_default_level_is_005():
    import inspect

    from nep_core.stats import fdr as fdr_fn

    assert inspect.signature(fdr_fn).parameters["alpha"].default == 0.05
    p = xr.DataArray(np.array([0.001, 0.02, 0.04, 0.06, 0.5]), dims="pixel")
    # BH at 0.05: sorted p_i <= i q / m -> 0.001 <= 0.01, 0.02 <= 0.02, 0.04 > 0.03 -> two rejections
    assert fdr_fn(p).values.tolist() == [True, True, False, False, False]


def test_student_t_two_sided_p_matches_scipy():
    """The closed-form integer-df Student t p-value of the partial correlations (finite sum, or its
    tail where the p-value is small) against scipy.special.stdtr over df 1..80 and |t| 1e-3..1e4."""
    from scipy.special import stdtr

    from nep_core.stats._kernels.pcorr import t_two_sided_p

    worst = 0.0
    for nu in [*range(1, 61), 80]:
        for t in np.concatenate([np.linspace(0.0, 4.0, 41), np.geomspace(1e-3, 1e4, 120)]):
            ref = 2.0 * stdtr(nu, -t)
            got = t_two_sided_p(t, nu)
            if ref > 1e-300:
                worst = max(worst, abs(got - ref) / ref)
            else:
                assert got < 1e-290
    assert worst < 1e-12
    assert t_two_sided_p(0.0, 7) == 1.0 and t_two_sided_p(np.inf, 7) == 0.0
    assert np.isnan(t_two_sided_p(np.nan, 7)) and np.isnan(t_two_sided_p(1.0, 0))


def test_hurst_extra_methods_equal_separate_calls():
    rng = np.random.default_rng(11)
    y = rng.standard_normal((300, 24))
    y[:10] = 2.0
    y[10:30, 5] = np.nan
    y[30:40, :21] = np.nan
    da = as_da(y)
    for main in ("prefix", "diff", "alp"):
        others = [m for m in ("prefix", "diff", "alp") if m != main]
        both = hurst_rs(da, method=main, extra_methods=others)
        lazy = hurst_rs(da.chunk({"pixel": 64}), method=main, extra_methods=others).compute()
        for m in (main, *others):
            single = hurst_rs(da, method=m)
            name = "hurst" if m == main else f"hurst_{m}"
            np.testing.assert_array_equal(both[name].values, single["hurst"].values)
            np.testing.assert_array_equal(lazy[name].values, single["hurst"].values)
            assert both[name].attrs == single["hurst"].attrs
        np.testing.assert_array_equal(both["reason"].values, hurst_rs(da, method=main)["reason"].values)
    with pytest.raises(NepInputError, match="method"):
        hurst_rs(da, extra_methods=["dfa"])
    with pytest.raises(NepInputError, match="repeats"):
        hurst_rs(da, method="prefix", extra_methods=["alp", "alp"])
