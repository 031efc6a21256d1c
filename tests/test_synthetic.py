"""The synthetic scenario: round trip through the real formats, internal consistency of the truth,
idempotent / atomic builds, and the generation time of the default 5 km scenario."""
import json
import os
import time

import numpy as np
import pandas as pd
import pytest
import rasterio
import xarray as xr

import nep_synthetic as synthetic
from nep_core import io, reasons
from nep_core.config import Config
from nep_core.errors import NepInputError
from nep_core.grid import make_grid

CFG25 = Config(resolution_m=25000)


@pytest.fixture(scope="session")
def scen25(tmp_path_factory):
    root = tmp_path_factory.mktemp("scen25") / "scenario"
    paths = synthetic.build_scenario(root, CFG25)
    grid = make_grid(25000)
    truth = xr.open_dataset(paths.truth)
    yield paths, grid, truth
    truth.close()


# ------------------------------------------------------------------------------ round trip
def test_roundtrip_npp(scen25):
    paths, grid, truth = scen25
    ds = io.read_npp(paths.npp_glob, grid, CFG25.years)
    np.testing.assert_array_equal(ds.npp.values, truth.npp.values)
    np.testing.assert_array_equal(ds.npp_reason.values, truth.npp_reason.values)
    assert ds.npp.attrs["units"] == truth.npp.attrs["units"] == "g C m-2 a-1"


def test_roundtrip_landcover(scen25):
    paths, grid, truth = scen25
    lc = io.read_landcover(paths.landcover_glob, grid, range(2000, 2023))
    np.testing.assert_array_equal(lc.values, truth.landcover.values)
    assert lc.lc_year.values.tolist() == list(range(2000, 2023))
    with pytest.raises(NepInputError, match=r"\[2023\]"):
        io.read_landcover(paths.landcover_glob, grid, [2023])


def test_roundtrip_stations(scen25):
    paths, grid, truth = scen25
    st = io.read_stations(paths.stations, layout=paths.station_layout, grid=grid)
    assert st.sizes == {"station": 350, "time": 288}
    assert st.station.values.tolist() == truth.station.values.tolist()
    for v in ("tmean", "prcp", "rad"):
        np.testing.assert_array_equal(st[v].values, truth[f"station_{v}_obs"].values)
    np.testing.assert_array_equal(st.elevation.values, truth.station_elevation.values)
    # most stations fall in the region at 25 km; those that do not are flagged, not dropped
    assert st.in_region.mean() > 0.9
    assert (st.station_reason.values[~st.in_region.values] == reasons.OUTSIDE_REGION).all()


def test_roundtrip_dem(scen25):
    paths, grid, truth = scen25
    d = io.read_dem(paths.dem, grid)
    r = grid.region.values
    np.testing.assert_array_equal(d.values[r], truth.elevation.values[r])


def test_scenario_inputs_point_at_files(scen25):
    paths, _, _ = scen25
    inp = synthetic.scenario_inputs(paths.root, CFG25)
    assert not inp.synthetic
    assert len(io.expand_paths(inp.npp)) == 24 and len(io.expand_paths(inp.landcover)) == 23
    for p in (inp.stations, inp.dem, inp.boundaries):
        assert os.path.exists(p)


# ------------------------------------------------------------------------------ truth consistency
def test_truth_nep_equals_npp_minus_rh(scen25):
    _, _, truth = scen25
    nep, npp, rh = truth.nep.values, truth.npp.values, truth.rh.values
    ok = np.isfinite(npp)
    assert ok.any()
    np.testing.assert_array_equal(nep[ok], (npp - rh)[ok])
    assert np.all(np.isnan(nep[~ok]))
    r = truth.region.values.astype(bool)
    assert 50 < np.nanmedian(rh[:, r]) < 400, "annual Rh (monthly Pei summed) of order 100-200"


def test_barren_has_fill_codes(scen25):
    paths, _, truth = scen25
    lc = truth.landcover.sel(lc_year=2010).values
    with rasterio.open(sorted(io.expand_paths(paths.npp_glob))[10]) as f:   # 2010
        raw = f.read(1)
    barren = lc == 7
    assert barren.sum() > 100
    assert np.isin(raw[barren], [32764, 32765]).all()
    assert (raw[lc == 6] == 32766).all()
    assert (raw[truth.region.values == 0] == 32767).all()
    veg = np.isin(lc, [1, 2, 3])
    assert (raw[veg] <= 32700).all()


def test_transitions_match_declared_rates(scen25):
    paths, _, truth = scen25
    tm = truth.lc_transition_area.values
    lc = truth.landcover
    area = 625.0
    for k, (y0, y1) in enumerate(((2000, 2011), (2011, 2022))):
        a0 = lc.sel(lc_year=y0).values
        rows = np.array([(a0 == c).sum() * area for c in range(1, 8)])
        np.testing.assert_allclose(tm[k].sum(axis=1), rows)
        total = tm[k].sum()
        changed = 100 * (total - np.trace(tm[k])) / total
        declared = sum(p for per, *_, p in synthetic.TRANSITIONS if per == k + 1)
        assert changed == pytest.approx(declared, abs=0.25), (y0, y1)
    shares = {c: 100 * np.mean(lc.sel(lc_year=2022).values[truth.region.values == 1] == c) for c in range(1, 8)}
    assert shares[7] == pytest.approx(52, abs=2) and shares[2] == pytest.approx(38, abs=2)
    assert shares[3] == pytest.approx(6, abs=1.5)


def test_changes_persist(scen25):
    _, _, truth = scen25
    lc = truth.landcover.values[:, truth.region.values == 1]
    changes_per_pixel = (np.diff(lc, axis=0) != 0).sum(axis=0)
    assert changes_per_pixel.max() <= 2, "at most one change per period, never flipping back and forth"


def test_no_trend_mask_and_planted_slopes(scen25):
    _, _, truth = scen25
    m = truth.no_trend_mask.values == 1
    veg = np.isfinite(truth.nep_slope_planted.values)
    assert (m & veg).sum() > 20
    assert np.all(truth.nep_slope_planted.values[m & veg] == 0)
    s = truth.nep_slope_ols.values[m & veg]
    assert abs(np.nanmean(s)) < 1.0, "zero planted trend: realised OLS slopes centre on 0"


def test_headline_calibration(scen25):
    paths, _, _ = scen25
    s = json.loads(paths.stamp.read_text())
    m = s["nep_mean_province"]
    assert m["Shaanxi"] > m["Gansu"] > m["Ningxia"] > m["Xinjiang"] > m["Qinghai"]
    for name, target in synthetic.TARGET_MEAN.items():
        assert m[name] == pytest.approx(target, rel=0.1), name
    assert s["nep_mean_nwc"] == pytest.approx(217.26, rel=0.1)
    sl = s["nep_series_slope_province"]
    assert sl["Shaanxi"] > sl["Gansu"] > sl["Qinghai"] and sl["Ningxia"] > sl["Qinghai"]


def test_planted_sensitivities_show_in_true_partial_correlations(scen25):
    _, _, truth = scen25
    kP = truth.sens_prcp.values
    rP = truth.pcorr_true_prcp.values
    arid = (kP > 0.8) & np.isfinite(rP)
    assert arid.sum() > 50
    assert np.median(rP[arid]) > 0.4, "strong positive NEP-P partial correlation where planted"
    kR = truth.sens_rad.values
    rR = truth.pcorr_true_rad.values
    neg = (kR < -0.3) & np.isfinite(rR)
    assert np.median(rR[neg]) < 0


def test_station_faults_table(scen25):
    paths, grid, truth = scen25
    f = pd.read_csv(paths.station_faults, dtype={"station": str})
    st = io.read_stations(paths.stations, grid=grid)
    assert set(f["kind"]) == {"missing", "outlier"}
    miss = f[f.kind == "missing"].head(200)
    for r in miss.itertuples():
        assert np.isnan(float(st[r.variable].sel(station=r.station, time=pd.Timestamp(r.date))))
    out = f[f.kind == "outlier"].head(200)
    for r in out.itertuples():
        assert float(st[r.variable].sel(station=r.station, time=pd.Timestamp(r.date))) == pytest.approx(r.written_value)
        assert r.written_value != pytest.approx(r.clean_value)
    # every NaN in the file is in the table: nothing silently missing
    n_nan = sum(int(np.isnan(st[v]).sum()) for v in ("tmean", "prcp", "rad"))
    assert n_nan == (f.kind == "missing").sum()


def test_station_network_denser_in_the_east(scen25):
    _, _, truth = scen25
    lon = truth.station_lon.values
    assert 300 <= lon.size <= 400
    # Shaanxi + Ningxia + eastern Gansu (lon > 104) hold far more stations per area than Xinjiang
    east = (lon > 104).mean()
    assert east > 0.2


# ------------------------------------------------------------------------------ build mechanics
def test_reproducible_and_idempotent(tmp_path, scen25):
    paths, _, truth = scen25
    p2 = synthetic.build_scenario(tmp_path / "again", CFG25)
    with xr.open_dataset(p2.truth) as t2:
        np.testing.assert_array_equal(t2.nep.values, truth.nep.values)
    mtime = os.stat(p2.truth).st_mtime_ns
    t0 = time.perf_counter()
    synthetic.build_scenario(tmp_path / "again", CFG25)
    assert time.perf_counter() - t0 < 1.0
    assert os.stat(p2.truth).st_mtime_ns == mtime, "a finished scenario is reused, not rewritten"
    assert synthetic.scenario_fingerprint(CFG25) != synthetic.scenario_fingerprint(CFG25.replace(seed=1))


def test_interrupted_build_never_looks_finished(tmp_path, monkeypatch):
    def boom(root, config):
        (root / "npp").mkdir()
        (root / "npp" / "half.tif").write_bytes(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(synthetic, "_generate", boom)
    with pytest.raises(KeyboardInterrupt):
        synthetic.build_scenario(tmp_path / "s", CFG25)
    assert not (tmp_path / "s").exists()
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())


def test_default_5km_scenario_under_a_minute(tmp_path):
    t0 = time.perf_counter()
    paths = synthetic.build_scenario(tmp_path / "s5", Config())
    seconds = time.perf_counter() - t0
    assert seconds < 60, seconds
    s = json.loads(paths.stamp.read_text())
    assert 110_000 < s["pixels_region"] < 130_000
    assert s["nep_mean_nwc"] == pytest.approx(217.26, rel=0.1)


@pytest.mark.slow
def test_500m_scenario(tmp_path):
    """The study's 500 m grid (12 M region pixels): builds, and the truth is consistent."""
    t0 = time.perf_counter()
    paths = synthetic.build_scenario(tmp_path / "s500", Config(resolution_m=500))
    s = json.loads(paths.stamp.read_text())
    assert 12.0e6 < s["pixels_region"] < 12.5e6
    assert time.perf_counter() - t0 < 3600
