"""Monte Carlo uncertainty of the headline numbers (nep_core.uncertainty, the ``uncertainty`` stage).

Tiers: properties of the error field and the prior draws; the Monte Carlo on a small hand-built sample
(determinism by seed, collapse at zero prior width, widening with the prior); the stage on the default
run (sampling agreement, tables, figure); and a slow coverage check against a planted truth.
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import xarray as xr  # noqa: E402

from nep_core import Config, carbon, figures, tables  # noqa: E402
from nep_core import uncertainty as U  # noqa: E402
from nep_core.config import Rh  # noqa: E402
from nep_core.errors import NepConfigError, NepInputError  # noqa: E402

SD_T, SD_P = 0.2, 2.5          # monthly T (degC) and P (mm) error SDs of the toy sample
SPACING = 30000.0              # error lattice of the toy sample (m); its pixels are 10 km apart


# ------------------------------------------------------------------------------ a hand-built sample
def _annual_rh(tmon, pmon, time, params):
    t = xr.DataArray(tmon, dims=("time", "pixel"), coords={"time": time}, attrs={"units": "degC"})
    p = xr.DataArray(pmon, dims=("time", "pixel"), coords={"time": time}, attrs={"units": "mm"})
    (rh,), tm, pa = carbon.annual_rh_sets(t, p, [params], with_climate=True)
    return [a.transpose("pixel", "year").values for a in (rh, tm, pa)]


def _world(ny=8, nx=10, seed=0):
    """True monthly T, P and annual NPP on a 10 km grid of ny x nx pixels, 24 years, 5 provinces."""
    rng = np.random.default_rng(seed)
    time = pd.date_range("2000-01-01", "2023-12-01", freq="MS").values
    gy, gx = 4.0e6 - 1e4 * np.arange(ny), 1e4 * np.arange(nx)
    iy, ix = [a.ravel() for a in np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")]
    month = np.arange(time.size) % 12
    season = -12 * np.cos(2 * np.pi * month / 12)[:, None]
    tmon = (5 + season + 0.3 * ix[None, :] + 0.02 * np.arange(time.size)[:, None] / 12).astype(np.float32)
    pmon = (25 + 15 * np.sin(2 * np.pi * month / 12)[:, None] + iy[None, :]).astype(np.float32)
    years = np.arange(2000, 2024)
    npp = (400 + 8 * (years - 2000)[None, :] + rng.normal(0, 15, (iy.size, years.size))).astype(np.float32)
    return dict(time=time, gy=gy, gx=gx, iy=iy, ix=ix, tmon=tmon, pmon=pmon, years=years, npp=npp,
                province=1 + ix * 5 // nx, cell_area=np.full(iy.size, 100.0))


def _sample(w, tmon=None, pmon=None, params=Rh()):
    """The Sample a run would build from monthly T and P (default: the true ones), constants ``params``."""
    tmon = w["tmon"] if tmon is None else tmon
    pmon = w["pmon"] if pmon is None else pmon
    rh0, tm0, pa0 = _annual_rh(tmon, pmon, w["time"], params)
    return U.Sample(step=1, gx=w["gx"], gy=w["gy"], iy=w["iy"], ix=w["ix"], cell_area=w["cell_area"],
                    province=w["province"], nep=(w["npp"] - rh0).astype(np.float32),
                    rad=np.zeros_like(rh0), tmon=tmon, pmon=pmon, time=w["time"], years=w["years"], rh0=rh0,
                    tmean0=tm0, prcp0=pa0)


def _headlines(sample, nep):
    ds = xr.Dataset({v: (("pixel", "year"), a) for v, a in
                     (("nep", nep), ("tmean", sample.tmean0), ("prcp", sample.prcp0), ("rad", sample.rad))},
                    coords={"year": sample.years})
    ds = ds.merge(U.per_pixel_maps(ds["nep"], Config().stats))
    ds["cell_area"], ds["province"] = ("pixel", sample.cell_area), ("pixel", sample.province)
    return U.headline_values(ds)


def _mc(sample, draws=20, prior=10.0, seed=1, sd=(SD_T, SD_P)):
    cfg = Config(seed=seed).replace(**{"uncertainty.draws": draws, "uncertainty.rh_prior_pct": prior,
                                       "uncertainty.error_spacing_m": SPACING})
    point = _headlines(sample, sample.nep)
    return U.monte_carlo(sample, point, cfg, *sd)


@pytest.fixture(scope="module")
def toy():
    return _sample(_world())


# ---------------------------------------------------------------------------------------- properties
def test_error_field_has_unit_sd_and_decorrelates_with_distance():
    x = np.arange(0, 400e3, 10e3)
    y = 4e6 - np.arange(0, 300e3, 10e3)
    f = U.error_field(np.random.default_rng(3), x, y, 4000, 100e3)
    assert f.shape == (4000, y.size, x.size) and f.dtype == np.float32
    sd = f.std(axis=0)
    assert np.all(np.abs(sd - 1) < 0.06)                      # 4000 draws: SE of an SD ~ 0.011
    near = np.corrcoef(f[:, 5, 5], f[:, 5, 6])[0, 1]          # 10 km apart
    far = np.corrcoef(f[:, 5, 5], f[:, 25, 35])[0, 1]         # > 300 km apart: no shared node
    assert near > 0.9 and abs(far) < 0.06


def test_draw_params_stay_within_the_prior_and_follow_the_seed():
    p = Rh()
    qs = [U.draw_params(U.draw_rng(7, i), p, 10.0) for i in range(200)]
    for k in ("a", "b", "c"):
        ratio = np.array([getattr(q, k) / getattr(p, k) for q in qs])
        assert ratio.min() >= 0.9 and ratio.max() <= 1.1 and ratio.std() > 0.04   # U(-0.1, 0.1): SD 0.058
    assert U.draw_params(U.draw_rng(7, 3), p, 10.0) == qs[3]
    assert U.draw_params(U.draw_rng(8, 3), p, 10.0) != qs[3]
    assert U.draw_params(U.draw_rng(7, 3), p, 0.0) == p


def test_sample_step_rounds_the_spacing():
    assert U.sample_step(5000.0, 15000.0) == 3
    assert U.sample_step(500.0, 15000.0) == 30
    assert U.sample_step(5000.0, 1000.0) == 1


def test_config_rejects_a_negative_prior():
    with pytest.raises(NepConfigError, match="uncertainty.rh_prior_pct"):
        Config().replace(**{"uncertainty.rh_prior_pct": -1.0}).validate()


# ----------------------------------------------------------------------------- the Monte Carlo itself
def test_monte_carlo_is_deterministic_by_seed(toy):
    a, da = _mc(toy, seed=5)
    b, db = _mc(toy, seed=5)
    c, _ = _mc(toy, seed=6)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(da, db)
    assert not np.allclose(a["p95"], c["p95"])


def test_zero_prior_width_collapses_to_the_point_estimate(toy):
    t, d = _mc(toy, draws=5, prior=0.0, sd=(0.0, 0.0))
    for c in ("median", "p05", "p95"):
        np.testing.assert_array_equal(t[c].to_numpy(), t["point estimate"].to_numpy())
    assert (d["a"] == Rh().a).all() and (d["c"] == Rh().c).all()


def test_intervals_widen_with_the_prior_width(toy):
    widths = []
    for prior in (2.0, 5.0, 10.0, 20.0):
        t, _ = _mc(toy, draws=30, prior=prior, sd=(0.0, 0.0))
        row = t.set_index("key").loc["nwc_mean"]
        assert row["p05"] <= row["median"] <= row["p95"]
        widths.append(row["p95"] - row["p05"])
    assert np.all(np.diff(widths) > 0), widths
    # the interpolation error alone gives an interval too, wider with a larger error SD
    iw = []
    for scale in (1.0, 2.0):
        t, _ = _mc(toy, draws=30, prior=0.0, sd=(scale * SD_T, scale * SD_P))
        row = t.set_index("key").loc["nwc_mean"]
        iw.append(row["p95"] - row["p05"])
    assert 0 < iw[0] < iw[1], iw


def test_interval_is_point_plus_sampled_change(toy):
    """A point estimate other than the sample's shifts every draw by the same amount."""
    cfg = Config(seed=2).replace(**{"uncertainty.draws": 8, "uncertainty.error_spacing_m": SPACING})
    point = _headlines(toy, toy.nep)
    t0, d0 = U.monte_carlo(toy, point, cfg, SD_T, SD_P)
    shifted = point.assign(value=point["value"] + 10.0)
    t1, d1 = U.monte_carlo(toy, shifted, cfg, SD_T, SD_P)
    np.testing.assert_allclose(t1["p05"] - t0["p05"], 10.0)
    np.testing.assert_allclose(d1["value"] - d0["value"], 10.0)
    np.testing.assert_allclose(t0["sample point estimate"], point.loc[t0["key"], "value"])


def test_headlines_are_pluggable(toy):
    extra = U.Headline("g C m-2 a-1",
                       lambda ds: {"max_mean": ("largest pixel mean NEP", ds["nep_mean"].max())})
    cfg = Config().replace(**{"uncertainty.draws": 4})
    point = U.headline_values(_headlines_ds(toy), (*U.HEADLINES, extra))
    t, _ = U.monte_carlo(toy, point, cfg, SD_T, SD_P, headlines=(*U.HEADLINES, extra))
    assert t["key"].iloc[-1] == "max_mean" and t["unit"].iloc[-1] == "g C m-2 a-1"


def _headlines_ds(sample):
    ds = xr.Dataset({"nep": (("pixel", "year"), sample.nep)}, coords={"year": sample.years})
    ds = ds.merge(U.per_pixel_maps(ds["nep"], Config().stats))
    ds["cell_area"], ds["province"] = ("pixel", sample.cell_area), ("pixel", sample.province)
    return ds


# ------------------------------------------------------------------------------ the stage, default run
def test_stage_sample_agrees_with_the_full_grid(default_results):
    """Sampling: every 3rd row and column at 5 km (default 15 km spacing). Stated tolerance: the sampled
    value of each headline within 1 % (means) or 1 percentage point (shares) of the full-grid value."""
    t = default_results.tables["uncertainty_headlines"].set_index("key")
    assert (t["n_draws"] == Config().uncertainty.draws).all()
    assert t["sampling"].iloc[0].startswith("one pixel in 3 x 3")
    means = t["unit"] != "%"
    rel = (t["sample point estimate"] - t["point estimate"]).abs() / t["point estimate"].abs()
    assert (rel[means] < 0.01).all(), rel
    assert ((t["sample point estimate"] - t["point estimate"]).abs()[~means] < 1.0).all()
    assert (t["p05"] <= t["median"]).all() and (t["median"] <= t["p95"]).all()
    assert (t.loc[means, "p95"] > t.loc[means, "p05"]).all()


def test_point_estimates_are_the_study_table_numbers(default_results):
    t = default_results.tables["uncertainty_headlines"].set_index("key")
    sv = tables.study_vs_reproduction(default_results)
    col = "reproduction (SYNTHETIC data)"
    for k in ("nwc_mean", "mean_Shaanxi", "mean_Xinjiang", "trend_sig_inc"):
        assert t.loc[k, "point estimate"] == pytest.approx(sv.loc[k, col], rel=1e-6)
        assert sv.loc[k, "Monte Carlo p05"] == pytest.approx(t.loc[k, "p05"])
        assert sv.loc[k, "Monte Carlo p05"] <= sv.loc[k, col] <= sv.loc[k, "Monte Carlo p95"]
    assert np.isnan(sv.loc["cv_mean", "Monte Carlo p05"])


def test_uncertainty_table_and_figure(default_results):
    ut = tables.uncertainty_table(default_results)
    want = {"point estimate", "median", "p05", "p95", "planted truth", "truth in 90 % interval"}
    assert want <= set(ut.columns)
    assert ut.loc["nwc_mean", "unit"] == "g C m-2 a-1"
    fig = figures.fig_uncertainty(default_results)
    try:
        assert len(figures.panel_axes(fig)) == len(ut)
    finally:
        plt.close(fig)


def test_uncertainty_table_and_figure_need_the_stage_tables():
    class R:
        tables = {}

    with pytest.raises(NepInputError, match="uncertainty_headlines"):
        tables.uncertainty_table(R())
    with pytest.raises(NepInputError, match="uncertainty_draws"):
        figures.fig_uncertainty(R())


# ------------------------------------------------------------------------------------ coverage (slow)
def _percentile_coverage(n):
    """Expected coverage of the [p05, p95] interval of ``n`` draws (numpy's linear percentiles) for a
    new value from the same continuous distribution: (rank of p95 - rank of p05) / (n + 1)."""
    return 0.9 * (n - 1) / (n + 1)


@pytest.mark.slow
def test_intervals_cover_the_planted_truth_at_the_nominal_rate():
    """80 seeds: each plants true Rh constants from the prior and a true interpolation error from the
    error model, runs the Monte Carlo (40 draws) from the resulting estimate and asks whether the 90 %
    interval of the regional mean NEP holds the true value. Expected rate 0.9 * 39 / 41 = 0.856
    (finite-draw percentiles: 68.5 of 80 seeds); tolerance: 3 binomial SDs (3 x 3.1 seeds)."""
    w = _world(6, 8)
    p0, prior, n_seeds, n_draws = Rh(), 10.0, 80, 40
    covered = 0
    for s in range(n_seeds):
        rng = np.random.default_rng([2024, s])
        p_true = U.draw_params(rng, p0, prior)
        e = [sd * U.error_field(rng, w["gx"], w["gy"], w["time"].size, SPACING)[:, w["iy"], w["ix"]]
             for sd in (SD_T, SD_P)]
        truth = _sample(w, params=p_true)                       # true climate, true constants
        est = _sample(w, w["tmon"] + e[0], np.maximum(w["pmon"] + e[1], 0), p0)
        t, _ = _mc(est, draws=n_draws, prior=prior, seed=s)
        row = t.set_index("key").loc["nwc_mean"]
        tv = _headlines(truth, truth.nep).loc["nwc_mean", "value"]
        covered += row["p05"] <= tv <= row["p95"]
    p = _percentile_coverage(n_draws)
    sd = np.sqrt(n_seeds * p * (1 - p))
    assert abs(covered - n_seeds * p) <= 3 * sd, (covered, n_seeds * p)
