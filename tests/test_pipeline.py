"""End-to-end pipeline on the embedded synthetic default: planted truth recovered, store schema,
caching, interruption and bad input.

Measured on the default 5 km run (52,723 pixels with a trend; see the closing notes of issue 4):
Sen CI covers the planted slope at 90 %, |Sen - planted| <= 2 SE at 90 %, mean Sen - OLS slope of
the true NEP series -0.03 g C m-2 a-2; raw MK false-positive rate on planted-zero pixels 4.8 %
(none) / 5.8 % (Hamed-Rao) / 6.2 % (Yue-Wang) / 4.8 % (TFPW) at alpha 0.05; false discovery
proportion after BH at q = 0.10 1.3-1.6 %; partial-correlation sign agreement 99.8-100 % where
|planted r| > 0.5; transition matrices identical to the planted ones.
"""
from __future__ import annotations

import dataclasses
import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from nep_core import Config, pipeline, reasons, stats, tables
from nep_core.config import Inputs, load_config
from nep_core.errors import NepConfigError, NepInputError
from nep_core.store import dask_view
from nep_core.store import open_zarr


def _trend_pixels(res):
    ds, tr = res.ds, res.truth
    return (ds["region"].values.astype(bool) & np.isfinite(ds["trend_slope"].values)
            & np.isfinite(tr["nep_slope_ols"].values))


# ------------------------------------------------------------------------------- truth recovery
def test_sen_slopes_recover_planted_trend_within_their_standard_error(default_results):
    ds, tr = default_results.ds, default_results.truth
    m = _trend_pixels(default_results)
    assert m.sum() > 40_000
    s = ds["trend_slope"].values[m]
    lo, hi = ds["trend_slope_low"].values[m], ds["trend_slope_high"].values[m]
    se = (hi - lo) / (2 * 1.959964)
    planted = tr["trend_slope"].values[m]
    within = np.mean(np.abs(s - planted) <= 2 * se)
    coverage = np.mean((planted >= lo) & (planted <= hi))
    print(f"|Sen - planted| <= 2 SE: {within:.3f}; 95 % CI covers planted: {coverage:.3f}")
    assert within > 0.85
    assert coverage > 0.85          # nominal 0.95; AR(1) noise and coherent climate anomalies
    # no systematic bias against the realised true NEP series
    ols = tr["nep_slope_ols"].values[m]
    assert abs(np.mean(s - ols)) < 0.1 * np.mean(se)
    assert np.corrcoef(s, planted)[0, 1] > 0.9


def test_mann_kendall_false_positive_rate_near_alpha_and_fdr_controlled(default_results):
    ds, tr = default_results.ds, default_results.truth
    alpha = default_results.config.stats.alpha
    q = default_results.config.stats.fdr_alpha
    null = (tr["trend_slope"].values == 0) & ds["region"].values.astype(bool) & np.isfinite(ds["trend_p"].values)
    assert null.sum() > 5_000
    assert tr["no_trend_mask"].values.sum() > 0
    for variant in ("none", "hamed_rao", "yue_wang", "tfpw"):
        p = ds["trend_p" if variant == "none" else f"trend_p_{variant}"].values
        fpr = np.mean(p[null] < alpha)
        sig = ds[f"trend_sig_fdr_{variant}"].values.astype(bool)
        fdp = (sig & null).sum() / max(sig.sum(), 1)
        print(f"{variant}: false-positive rate {fpr:.4f}, FDP after BH {fdp:.4f}")
        assert 0.0 < fpr < 2 * alpha, variant
        assert fdp <= q, variant
        assert sig.sum() > 0.5 * (~null & np.isfinite(p)).sum()   # and power remains


def test_partial_correlation_signs_as_planted(default_results):
    ds, tr = default_results.ds, default_results.truth
    for v in ("tmean", "prcp", "rad"):
        pt, pe = tr[f"pcorr_true_{v}"].values, ds[f"pcorr_r_{v}"].values
        strong = ds["region"].values.astype(bool) & np.isfinite(pt) & np.isfinite(pe) & (np.abs(pt) > 0.5)
        assert strong.sum() > 1000, v
        agree = np.mean(np.sign(pt[strong]) == np.sign(pe[strong]))
        assert agree > 0.98, (v, agree)


def test_transition_matrices_equal_planted(default_results):
    tm = default_results.truth["lc_transition_area"].values
    for k, (a, b) in enumerate(((2000, 2011), (2011, 2022))):
        got = tables.transition_table(default_results, a, b).to_numpy(dtype=float)[:7, :7]
        total = tm[k].sum()
        assert np.abs(got - tm[k]).sum() <= 0.01 * total, (a, b)
        assert np.trace(got) < got.sum()            # there are changes to find


def test_interpolation_cross_validation_reported(default_results):
    cv = default_results.tables["interpolation_cv"].set_index("variable")
    assert set(cv.index) == {"tmean", "prcp", "rad"}
    assert np.isfinite(cv[["loo_rmse", "loo_bias"]].to_numpy()).all()
    assert cv.loc["tmean", "units"] == "degC" and cv.loc["tmean", "loo_rmse"] < 1.0
    assert (cv["loo_rmse"] > 0).all()
    qc = default_results.tables["qc_summary"]
    assert set(qc["variable"]) == {"tmean", "prcp", "rad"} and (qc["n_filled"] > 0).all()


def test_rh_sensitivity_table(default_results):
    t = default_results.tables["rh_sensitivity"]
    assert set(t["parameter"]) == {"a", "b", "c"}
    assert sorted(set(t["change_pct"])) == [-10.0, 0.0, 10.0]
    col = "nep_mean_g C m-2 a-1"
    base = t.loc[t.change_pct == 0, col]
    assert np.ptp(base.to_numpy()) == 0                          # one baseline for every parameter
    base = base.iloc[0]
    for k in ("a", "b", "c"):                                    # more respiration, less NEP
        up = t[(t.parameter == k) & (t.change_pct > 0)][col].item()
        down = t[(t.parameter == k) & (t.change_pct < 0)][col].item()
        assert down > base > up, k
    # a is a pure scale factor: NEP mean moves by exactly 10 % of mean Rh
    ds = default_results.ds
    valid = np.isfinite(ds["nep_mean"])
    rh_mean = float((ds["rh"].mean("year") * ds["cell_area"]).where(valid).sum()
                    / ds["cell_area"].where(valid).sum())
    a_up = t[(t.parameter == "a") & (t.change_pct > 0)][col].item()
    assert base - a_up == pytest.approx(0.1 * rh_mean, rel=1e-3)
    assert t.loc[(t.parameter == "b") & (t.change_pct == 0), "parameter value"].item() == pytest.approx(
        default_results.config.rh.b)


def test_rh_sensitivity_one_pass_equals_the_direct_computation(default_results):
    """The fused one-pass table (every case per block) against NPP - Rh', sen_mk, trend_class, area means."""
    from nep_core import classify, stats

    res = default_results
    ds, st = res.ds, res.config.stats
    (clim_path,) = (res.path.parent / pipeline.STAGE_DIR).glob("climate-*/data.zarr")
    t = res.tables["rh_sensitivity"].set_index(["parameter", "change_pct"])
    with open_zarr(clim_path) as clim:
        for k in ("a", "b", "c"):
            for pct in (-10.0, 0.0, 10.0):
                if pct == 0:
                    rh = ds["rh"]
                elif k == "a":
                    rh = ds["rh"] * (1 + pct / 100)
                else:
                    rh = clim[f"rh_{k}_{'m' if pct < 0 else 'p'}{abs(pct):g}"].load()
                nep = (ds["npp"] - rh).where(ds["region"].astype(bool)).assign_attrs(units="g C m-2 a-1")
                mean = nep.mean("year")
                tr = stats.sen_mk(nep, dim="year", alpha=st.alpha, correction=st.correction,
                                  min_valid=st.min_valid)
                cls = classify.trend_class(tr, eps=st.stable_eps)
                w = ds["cell_area"].where(np.isfinite(mean))
                ws = ds["cell_area"].where(np.isfinite(tr["slope"]))
                row = t.loc[(k, pct)]
                assert row["nep_mean_g C m-2 a-1"] == pytest.approx(float((mean * w).sum() / w.sum()), rel=1e-5)
                assert row["mean_slope_g C m-2 a-2"] == pytest.approx(float((tr["slope"] * ws).sum() / ws.sum()),
                                                                      rel=1e-4)
                for col, sel in (("sink_share_pct", mean > 0), ("increasing_share_pct", cls >= 6),
                                 ("significant_increase_share_pct", cls >= 8)):
                    direct = float(w.where(sel).sum() / w.sum() * 100)
                    assert row[col] == pytest.approx(direct, abs=0.02), (k, pct, col)


# ------------------------------------------------------------------------------------ the store
def test_store_schema_units_variants_and_notice(default_results):
    ds = default_results.ds
    assert ds.attrs["synthetic"] == 1 and "SYNTHETIC" in ds.attrs["note"]
    for name, var in ds.data_vars.items():
        assert "units" in var.attrs or name in ("spatial_ref",), name
    for name in ("trend_slope", "trend_p", "cv", "hurst", "pcorr_r_tmean"):
        assert ds[name].attrs.get("description"), name
    assert ds["trend_slope"].attrs["units"] == "g C m-2 a-2"
    assert ds["nep"].attrs["units"] == "g C m-2 a-1"
    for name in ("trend_class", "nep_class", "cv_class", "persistence_class",
                 "persistence_class_calibrated", "drywet"):
        assert "flag_values" in ds[name].attrs and "flag_meanings" in ds[name].attrs, name
    assert ds["cv_class"].attrs["breaks"].size == default_results.config.stats.n_breaks + 1
    thr = ds["persistence_class_calibrated"].attrs["threshold"]
    assert 0.75 < thr < 0.9           # iid-null q95 of prefix R/S at n = 24
    # reasons are recorded, never silent: outside the region every statistic says why
    out = ~ds["region"].values.astype(bool)
    assert (ds["trend_reason"].values[out] != reasons.VALID).all()
    assert set(np.unique(ds["npp_reason"].values)) >= {reasons.VALID, reasons.NPP_FILL}


def test_outputs_on_disk(default_results):
    import rasterio

    out = Path(default_results.config.out_dir)
    with rasterio.open(out / "maps" / "trend_slope.tif") as src:
        assert src.crs is not None and src.tags()["units"] == "g C m-2 a-2"
        assert src.overviews(1) or src.width < 512
        assert "SYNTHETIC" in src.tags()["note"]
    csvs = {p.stem for p in (out / "tables").glob("*.csv")}
    assert {"province_summary", "trend_class_shares", "landcover_nep", "rh_sensitivity",
            "interpolation_cv", "truth_recovery"} <= csvs
    df = pd.read_csv(out / "tables" / "province_summary.csv", index_col=0)
    assert "mean NEP (g C m-2 a-1)" in df.columns
    assert not list(out.rglob("*.tmp")), "temporary files left behind"


def test_default_run_timings(default_results):
    t = default_results.timings
    assert {"climate + Rh", "per-pixel statistics", "tables + maps"} <= set(t)
    assert all(v >= 0 for v in t.values())
    assert "total" in pipeline.format_timings(t)


# ------------------------------------------------------------------------- caching and faults
@pytest.fixture
def run_copy(default_results, tmp_path):
    """A private copy of the default run's directory (mtimes kept, so input fingerprints match)."""
    dst = tmp_path / "run"
    shutil.copytree(default_results.config.out_dir, dst, symlinks=True)
    (dst / ".lock").unlink(missing_ok=True)
    return default_results.config.replace(out_dir=str(dst))


def test_rerun_reuses_every_stage(run_copy):
    res = pipeline.run(run_copy)
    assert res.cache_misses == []
    assert {"static", "climate", "carbon", "stats", "results"} <= set(res.cache_hits)


def test_temporaries_of_a_killed_run_are_removed_by_the_next(run_copy):
    out = Path(run_copy.out_dir)
    left = [out / ".stages" / ".stats-0123456789abcdef.x1y2.tmp", out / "maps" / ".cv.tif.k3j4.tmp",
            out / ".results.nc.a1b2.tmp", out / ".stages" / ".climate-0123456789abcdef.old"]
    for p in left:
        if p.suffix == ".tmp" and "stages" in p.parts:
            (p / "data.zarr").mkdir(parents=True)
        else:
            p.write_bytes(b"half")
    res = pipeline.run(run_copy)
    assert res.cache_misses == [] and not any(p.exists() for p in left)


def test_changed_parameter_recomputes_only_what_depends_on_it(run_copy, default_results):
    res = pipeline.run(run_copy.replace(**{"stats.alpha": 0.10}))
    assert "stats" in res.cache_misses and "results" in res.cache_misses
    assert "climate" in res.cache_hits and "carbon" in res.cache_hits
    assert not np.array_equal(
        res.ds["trend_slope_low"].values, default_results.ds["trend_slope_low"].values, equal_nan=True)
    np.testing.assert_array_equal(res.ds["trend_slope"].values, default_results.ds["trend_slope"].values)
    assert len(_stage_dirs(run_copy, "stats")) == 1   # old key pruned


def _stage_dirs(cfg, stage):
    return list((Path(cfg.out_dir) / pipeline.STAGE_DIR).glob(f"{stage}-{'?' * 16}"))


def test_interrupted_stage_leaves_nothing_half_written(run_copy, default_results, monkeypatch):
    _drop_outputs(run_copy, "stats")
    real = xr.Dataset.to_zarr

    def dying(self, path, *a, **k):
        real(self, path, *a, **k)          # the bytes are on disk under the temporary name ...
        raise KeyboardInterrupt            # ... and the process dies before the rename

    monkeypatch.setattr(xr.Dataset, "to_zarr", dying)
    (Path(run_copy.out_dir) / pipeline.TIMINGS_FILE).unlink(missing_ok=True)
    with pytest.raises(KeyboardInterrupt):
        pipeline.run(run_copy)
    monkeypatch.setattr(xr.Dataset, "to_zarr", real)
    assert not _stage_dirs(run_copy, "stats") and not list(Path(run_copy.out_dir).rglob("*.tmp"))
    # the stages finished before the interruption kept their measurements
    saved = json.loads((Path(run_copy.out_dir) / pipeline.TIMINGS_FILE).read_text())
    assert {"grid + DEM", "climate + Rh", "NPP + NEP + land cover"} <= set(saved)
    res = pipeline.run(run_copy)
    assert "stats" in res.cache_misses
    keep = ["trend_slope", "trend_p", "hurst", "cv"]
    for v in keep:                          # values and variable attrs (the file-level attrs name paths)
        xr.testing.assert_identical(res.ds[v], default_results.ds[v])


@pytest.mark.slow
def test_killed_run_then_rerun_gives_the_clean_result(tmp_path):
    """SIGKILL a real `nep run` midway (25 km), rerun, compare with an uninterrupted run."""
    env = dict(os.environ)
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    cmd = [sys.executable, "-m", "nep_core", "run", "--resolution", "25000", "--no-progress", "--out"]
    proc = subprocess.Popen([*cmd, str(killed)], env=env)
    t0 = time.time()
    while not list((killed / ".stages").glob("static-*/manifest.json")) and time.time() - t0 < 300:
        time.sleep(0.2)
    time.sleep(3.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "results.nc").exists()
    subprocess.run([*cmd, str(killed)], env=env, check=True)
    subprocess.run([*cmd, str(clean)], env=env, check=True)
    a = xr.open_dataset(killed / "results.nc", engine="h5netcdf")
    b = xr.open_dataset(clean / "results.nc", engine="h5netcdf")
    xr.testing.assert_equal(a, b)          # values, dims, coords (attrs name the output paths)


def test_missing_input_file_is_named(tmp_path, default_results):
    inp = default_results.config
    sc = Path(inp.out_dir) / "scenario"
    cfg = Config(out_dir=str(tmp_path / "o"), inputs=Inputs(
        npp=str(sc / "npp" / "nothing-*.tif"), landcover=str(sc / "landcover" / "*.tif"),
        stations=str(sc / "stations.csv"), dem=str(sc / "dem.tif")))
    with pytest.raises(NepInputError, match="nothing-"):
        pipeline.run(cfg)
    with pytest.raises(NepInputError, match="inputs.landcover.*not set"):
        pipeline.run(Config(out_dir=str(tmp_path / "o"), inputs=Inputs(npp="x.tif")))


def test_config_typo_is_an_error(tmp_path):
    p = tmp_path / "nep.toml"
    p.write_text('[stats]\nalpah = 0.1\n')
    with pytest.raises(NepConfigError, match="alpah") as e:
        load_config(p)
    assert str(p) in str(e.value)
    r = subprocess.run([sys.executable, "-m", "nep_core", "run", "--config", str(p)],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "alpah" in r.stderr


def test_config_min_valid_relative_default_and_absolute_override(tmp_path):
    """stats.min_valid: omitted = ceil(0.8 * n_years) (a 12-year run is valid), an integer is an
    absolute number of years checked against the run's years, anything else is a config error."""
    short = Config(first_year=2012, last_year=2023)
    assert short.stats.min_valid is None
    short.validate()
    with pytest.raises(NepInputError, match="stats.min_valid"):
        short.replace(**{"stats.min_valid": 20}).validate()
    p = tmp_path / "nep.toml"
    p.write_text("[stats]\nmin_valid = 15\n")
    assert load_config(p).stats.min_valid == 15
    p.write_text('[stats]\nmin_valid = "all"\n')
    with pytest.raises(NepConfigError, match="an integer >= 3") as e:
        load_config(p)
    assert "stats.min_valid" in str(e.value)


def test_station_file_without_usable_stations(tmp_path, default_results):
    sc = Path(default_results.config.out_dir) / "scenario"
    bad = tmp_path / "stations.csv"
    with open(sc / "stations.csv") as fh:
        lines = [ln for ln in fh if ln.startswith("#") or ln.startswith("station")]
    bad.write_text("".join(lines))           # header only: no station at all
    cfg = Config(out_dir=str(tmp_path / "o"), resolution_m=50_000.0, inputs=Inputs(
        npp=str(sc / "npp" / "*.tif"), landcover=str(sc / "landcover" / "*.tif"),
        stations=str(bad), dem=str(sc / "dem.tif")))
    with pytest.raises(NepInputError) as e:
        pipeline.run(cfg)
    assert "stations.csv" in str(e.value)


def test_full_nan_chunk_is_masked_with_a_reason():
    """A spatial chunk with no valid NEP at all (e.g. a desert tile) yields NaN + reason codes,
    and the neighbouring chunks are unaffected."""
    rng = np.random.default_rng(0)
    years = np.arange(2000, 2024)
    ny, nx = 32, 32
    t = (years - years.mean())[:, None, None]
    nep = 100 + 2.0 * t + rng.standard_normal((years.size, ny, nx)) * 5
    nep[:, :16, :16] = np.nan
    coords = {"year": years, "y": np.arange(ny), "x": np.arange(nx)}

    def da(a, units):
        return xr.DataArray(a, dims=("year", "y", "x"), coords=coords, attrs={"units": units}).chunk(
            {"year": -1, "y": 16, "x": 16})

    annual = xr.Dataset({"nep": da(nep, "g C m-2 a-1"),
                         "tmean": da(rng.standard_normal(nep.shape), "degC"),
                         "prcp": da(rng.gamma(2, 100, nep.shape), "mm a-1"),
                         "rad": da(rng.normal(5000, 100, nep.shape), "MJ m-2 a-1")})
    out = stats.per_pixel_statistics(annual, Config().stats).compute()
    blank = (slice(0, 16), slice(0, 16))
    for v in ("trend_slope", "trend_p", "cv", "hurst", "pcorr_r_tmean", "nep_mean"):
        assert np.isnan(out[v].values[blank]).all(), v
    assert (out["trend_reason"].values[blank] == reasons.ALL_NAN).all()
    assert (out["cv_reason"].values[blank] == reasons.ALL_NAN).all()
    assert np.isfinite(out["trend_slope"].values[16:, 16:]).all()
    assert np.abs(out["trend_slope"].values[16:, 16:] - 2.0).max() < 1.0


# --------------------------------------------------------------------------------- distributed
def _drop_outputs(cfg, *stages):
    for s in stages:
        for p in _stage_dirs(cfg, s):
            shutil.rmtree(p)
    (Path(cfg.out_dir) / "results.nc").unlink()


def test_distributed_run_equals_local_run(run_copy, default_results):
    """`--scheduler ADDRESS`: the climate surfaces, NPP / NEP, the statistics and the store computed
    on a 2-worker LocalCluster (separate processes) equal the threaded run exactly: values, dtypes
    and variable attrs."""
    distributed = pytest.importorskip("distributed")
    _drop_outputs(run_copy, "climate", "carbon", "stats")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        res = pipeline.run(run_copy.replace(scheduler=cluster.scheduler_address))
    assert {"climate", "carbon", "stats"} <= set(res.cache_misses)
    a, b = res.ds, default_results.ds
    assert set(a.data_vars) == set(b.data_vars)
    for v in a.data_vars:
        assert a[v].dtype == b[v].dtype, v
        x, y = a[v].copy(), b[v].copy()
        if "source_files" in y.attrs:   # input provenance: the run copy lives in another directory
            names = [[Path(f).name for f in d.attrs.pop("source_files").split(", ")] for d in (x, y)]
            assert names[0] == names[1], v
        xr.testing.assert_identical(x, y)


def test_worker_killed_mid_run(run_copy, default_results):
    """A LocalCluster worker process is SIGKILLed while the statistics stage is being computed: the
    run completes (dask reschedules the lost tasks on the restarted worker) or fails with a clear
    error, and in either case a rerun gives the complete, correct store."""
    import threading

    distributed = pytest.importorskip("distributed")
    _drop_outputs(run_copy, "stats")
    stages = Path(run_copy.out_dir) / ".stages"
    outcome = {}
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        cfg = run_copy.replace(scheduler=cluster.scheduler_address)

        def target():
            try:
                outcome["res"] = pipeline.run(cfg)
            except Exception as exc:  # noqa: BLE001  (the test inspects it below)
                outcome["error"] = exc

        th = threading.Thread(target=target)
        th.start()
        t0 = time.time()
        while not list(stages.glob(".stats-*.tmp")) and th.is_alive() and time.time() - t0 < 300:
            time.sleep(0.05)
        assert th.is_alive(), "the run finished before the worker could be killed"
        nanny = next(iter(cluster.workers.values()))
        nanny.process.process.kill()
        killed_at = time.time() - t0
        th.join(600)
    print(f"worker killed {killed_at:.1f} s into the run; outcome: {sorted(outcome)}")
    assert not list(Path(run_copy.out_dir).rglob("*.tmp"))
    if "error" in outcome:
        assert str(outcome["error"])
        assert not _stage_dirs(run_copy, "stats")
    res = outcome.get("res") or pipeline.run(run_copy)
    for v in ("trend_slope", "trend_p", "cv", "hurst", "pcorr_r_prcp"):
        xr.testing.assert_identical(res.ds[v], default_results.ds[v])


def test_book_false_positive_table_matches_direct_count(default_results):
    t = tables.trend_false_positives(default_results, alpha=0.05, fdr_alpha=0.10)
    ds, tr = default_results.ds, default_results.truth
    null = (tr["trend_slope"].values == 0) & ds["region"].values.astype(bool) & np.isfinite(ds["trend_p"].values)
    assert t.loc["none", "planted-zero pixels"] == null.sum()
    assert t.loc["none", "false-positive rate, p < 0.05 (%)"] == pytest.approx(
        100 * np.mean(ds["trend_p"].values[null] < 0.05))
    ts = tables.trend_sensitivity(default_results, alpha=0.05, fdr_alpha=0.10)
    same_level = ts["significant, BH FDR q = 0.05 (%)"]
    assert (same_level <= ts["significant, p < 0.05 (%)"] + 1e-9).all()
    assert (same_level <= ts["significant, BH FDR q = 0.1 (%)"] + 1e-9).all()


def test_qc_and_fill_scored_against_planted_faults(default_results):
    t = tables.qc_validation(default_results)
    assert list(t.index) == ["tmean", "prcp", "rad"]
    assert (t["outliers flagged (%)"] > 95).all()
    assert (t["clean values flagged (%)"] < 1).all()
    assert t.loc["tmean", "units"] == "degC" and t.loc["tmean", "fill RMSE"] < 1.0
    assert (t["within 1.96 kriging SD (%)"] > 85).all()
    it = tables.interpolation_table(default_results)
    assert it.loc["tmean", "annual grid RMSE vs planted truth"] < it.loc["tmean", "LOO RMSE"] * 5
    assert abs(it.loc["prcp", "annual grid bias vs planted truth"]) < 5.0     # mm a-1
    # the grid errors are area-weighted over every (year, pixel) pair: against a direct numpy count
    ds, inside = default_results.ds, default_results.ds["province"].values > 0
    for v in ("tmean", "prcp"):
        d = (ds[v] - default_results.truth[v]).transpose("year", ...).values[:, inside].astype(float)
        w = np.broadcast_to(ds["cell_area"].values[inside], d.shape)
        ok = np.isfinite(d)
        rmse, bias = np.sqrt(np.sum(w[ok] * d[ok] ** 2) / w[ok].sum()), np.sum(w[ok] * d[ok]) / w[ok].sum()
        assert it.loc[v, "annual grid RMSE vs planted truth"] == pytest.approx(rmse, rel=1e-5)
        assert it.loc[v, "annual grid bias vs planted truth"] == pytest.approx(bias, rel=1e-5)


def test_dask_view_slices_without_copying_the_cube():
    """The carbon stage wraps the readers' numpy cubes with ``dask_view``: blocks are views of the
    cube, computed lazily (``dask.array.from_array`` would copy the whole cube into per-chunk pieces;
    at 500 m that doubled the stage's memory)."""
    import dask

    a = np.arange(4 * 6 * 5, dtype=np.float32).reshape(4, 6, 5)
    d = dask_view(a, [-1, 4, 3])
    assert d.chunks == ((4,), (4, 2), (3, 2))
    np.testing.assert_array_equal(d.compute(scheduler="threads"), a)
    graph_arrays = [v for v in dict(d.__dask_graph__()).values() if isinstance(v, np.ndarray)]
    assert not graph_arrays, "no per-chunk copies embedded in the graph"
    # building the view allocates nothing like the cube (from_array splits a numpy cube into copies)
    import tracemalloc

    big = np.ones((24, 512, 512), np.float32)                      # 25 MB
    tracemalloc.start()
    dask_view(big, [-1, 128, 128])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < big.nbytes / 10, peak
    with dask.config.set(scheduler="sync"):
        np.testing.assert_array_equal((d * 2).sum(axis=0).compute(), (a * 2).sum(axis=0))


def test_large_store_path_keeps_rare_maps_lazy_and_tables_equal(default_results, monkeypatch):
    """The 500 m path of ``load_maps`` (store above LOAD_WHOLE_BYTES): the corrected p-values and
    Hurst variants stay lazy, the tables read from it equal the tables of the fully loaded store."""
    from nep_core.pipeline import outputs

    prun = importlib.import_module("nep_core.pipeline.run")   # the module, not the function run
    res = default_results
    monkeypatch.setattr(outputs, "LOAD_WHOLE_BYTES", 0)
    ds = outputs.load_maps(xr.open_dataset(res.path, chunks={}))
    assert all(ds[v].chunks is not None for v in ("trend_p_tfpw", "hurst_prefix", "attr_slope_human"))
    assert ds["trend_slope"].chunks is None and ds["landcover"].chunks is None
    lazy = prun._tables(dataclasses.replace(res, ds=ds))
    for name in ("trend_sensitivity", "hurst_summary", "trend_class_shares", "province_summary",
                 "attribution_by_province", "attribution_by_landcover"):
        pd.testing.assert_frame_equal(lazy[name], res.tables[name], check_exact=False, rtol=1e-12)
