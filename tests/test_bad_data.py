"""Bad data and bad config (issue 15, part B): each case builds one bad variant of one file of the
default 5 km scenario (built once per module) and asserts the exact outcome: the error names the file,
the variable or key and the check to relax, or the input is masked with a reason code / dropped with a
warning that counts it. Reader-level calls where the pipeline is not needed; the few whole-pipeline
cases (previous results unchanged after a failed run) share one finished default run and are slow.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio

import nep_synthetic as synthetic
from nep_core import Config, grid, io, pipeline, reasons
from nep_core.config import load_config
from nep_core.errors import NepConfigError, NepInputError, NepInputWarning

YEARS = list(range(2000, 2024))
LC_YEARS = [y for y in YEARS if y <= 2022]
RELAX = "plausible_ranges = false"


@pytest.fixture(scope="module")
def scen(default_config):
    """The default scenario's files (built once, in the session's default run directory, which the
    default run then reuses; never written to here) and its 5 km grid."""
    sp = synthetic.ScenarioPaths.of(pipeline.scenario(default_config))
    return sp, grid.make_grid(default_config.resolution_m, sp.boundaries)


# ------------------------------------------------------------------------------------ file makers
def _rewrite_tif(src, dst, fn, tags=None, nodata="keep"):
    """Copy a GeoTIFF with band 1 replaced by ``fn(band 1)`` (its dtype), other tags / nodata if given."""
    with rasterio.open(src) as s:
        prof, band, old_tags = s.profile, s.read(1), s.tags()
    arr = np.asarray(fn(band))
    prof.update(dtype=arr.dtype.name)
    if nodata != "keep":
        prof.update(nodata=nodata)
    with rasterio.open(dst, "w", **prof) as d:
        d.write(arr, 1)
        d.update_tags(**(old_tags if tags is None else tags))
    return Path(dst)


def _npp_variant(scen, tmp, fn, year=2005, **kw):
    """A directory with the scenario's NPP files, the one of ``year`` rewritten by ``fn``."""
    sp, _ = scen
    d = tmp / "npp"
    d.mkdir()
    for f in sorted(Path(sp.npp_glob).parent.glob("*.tif")):
        if f".A{year}" in f.name:
            _rewrite_tif(f, d / f.name, fn, **kw)
        else:
            (d / f.name).symlink_to(f)
    return str(d / "MOD17A3HGF.A*.tif"), next(d.glob(f"*A{year}*"))


def _float_npp(factor, units):
    """NPP as float values: the raw codes decoded to g C m-2 a-1, times ``factor``, declared ``units``."""
    def fn(raw):
        v = np.where((raw >= 32761), np.nan, raw * 0.1).astype(np.float32)
        return v * np.float32(factor)
    return dict(fn=fn, tags={"units": units}, nodata=None)


def _lc_variant(scen, tmp, fn, years):
    sp, _ = scen
    d = tmp / "landcover"
    d.mkdir()
    for f in sorted(Path(sp.landcover_glob).parent.glob("*.tif")):
        if any(f".A{y}" in f.name for y in years):
            _rewrite_tif(f, d / f.name, fn)
        else:
            (d / f.name).symlink_to(f)
    return str(d / "MCD12Q1.A*.tif"), next(d.glob(f"*A{years[0]}*"))


def _stations_variant(scen, tmp, fn):
    sp, _ = scen
    df = pd.read_csv(sp.stations, comment="#", dtype={"station": str})
    df = fn(df)
    path = tmp / "stations.csv"
    df.to_csv(path, index=False)
    return path


def _geojson_variant(scen, tmp, fn):
    sp, _ = scen
    doc = json.loads(Path(sp.boundaries).read_text())
    doc = fn(doc)
    path = tmp / "provinces.geojson"
    path.write_text(json.dumps(doc))
    return path


def _west(df):
    return df["lon"] < 90


def _swap(mask_fn):
    def fn(df):
        m = mask_fn(df)
        df.loc[m, ["lon", "lat"]] = df.loc[m, ["lat", "lon"]].values
        return df
    return fn


def _shift_north(df, n=10, by=20.0):
    """The first ``n`` stations moved ``by`` degrees north (past 55 N: far from the region)."""
    ids = sorted(df["station"].unique())[:n]
    df.loc[df["station"].isin(ids), "lat"] += by
    return df


def _hole(dem):
    """A block of -9999 in the middle of the region, nodata not declared."""
    out = dem.copy()
    out[180:230, 300:340] = -9999
    return out


def _scale(col, factor):
    def fn(df):
        df[col] = df[col] * factor
        return df
    return fn


# ------------------------------------------------------------------------------------ reader cases
# (id, reader, corrupt) -> outcome: ("error", [texts the message must contain]) or ("warn", [texts], check)
def _read(kind, scen, tmp, **kw):
    sp, g = scen
    if kind == "npp":
        pattern, bad = _npp_variant(scen, tmp, **kw)
        return lambda **o: io.read_npp(pattern, g, YEARS, **o), bad
    if kind == "dem":
        bad = _rewrite_tif(sp.dem, tmp / "dem.tif", **kw)
        return lambda **o: io.read_dem(bad, g, **o), bad
    if kind == "stations":
        bad = _stations_variant(scen, tmp, **kw)
        return lambda **o: io.read_stations(bad, "csv", g, **o), bad
    if kind == "landcover":
        pattern, bad = _lc_variant(scen, tmp, **kw)
        return lambda **o: io.read_landcover(pattern, g, LC_YEARS, **o), bad
    if kind == "boundaries":
        bad = _geojson_variant(scen, tmp, **kw)
        return lambda **o: grid.make_grid(5000.0, bad, **o), bad
    raise AssertionError(kind)


def _drop_feature(name):
    def fn(doc):
        doc["features"] = [f for f in doc["features"] if f["properties"].get("name") != name]
        return doc
    return fn


def _shrink_feature(name):
    def fn(doc):
        for f in doc["features"]:
            if f["properties"].get("name") == name:
                f["geometry"] = {"type": "Polygon", "coordinates": [[[106.0, 37.0], [106.001, 37.0],
                                                                      [106.001, 37.001], [106.0, 37.0]]]}
        return doc
    return fn


ERROR_CASES = [
    pytest.param("npp", _float_npp(1.0, "kg C m-2 a-1"), ["npp", "2005", "median", "g C vs kg C", RELAX],
                 id="npp-float-gC-declared-kgC"),
    pytest.param("npp", _float_npp(0.001, "g C m-2 a-1"), ["npp", "2005", "median", RELAX],
                 id="npp-float-kgC-declared-gC"),
    pytest.param("npp", _float_npp(-1.0, "g C m-2 a-1"), ["npp", "2005", "median", RELAX],
                 id="npp-negative"),
    pytest.param("npp", dict(fn=lambda raw: np.full_like(raw, 32767)),
                 ["npp", "2005", "all fill or masked", "npp_fill_or_non_vegetated"], id="npp-all-fill-year"),
    pytest.param("npp", dict(fn=lambda raw: np.where(raw < 32761, 32764, raw).astype(raw.dtype)),
                 ["npp", "2005", "all fill or masked", "npp_fill_or_non_vegetated"], id="npp-all-snow-codes"),
    pytest.param("dem", dict(fn=lambda a: np.where(a == -32768, a, a / 1000.0).astype(np.float32),
                             nodata=-32768.0),
                 ["elevation", "median", "km", RELAX], id="dem-km-tagged-m"),
    pytest.param("dem", dict(fn=lambda a: np.full_like(a, 1500)), ["elevation", "spread", RELAX],
                 id="dem-constant"),
    pytest.param("dem", dict(fn=_hole, nodata=None), ["elevation", "-500..9000", "nodata not declared"],
                 id="dem-nodata-undeclared"),
    pytest.param("stations", dict(fn=_scale("prcp[mm]", 0.001)), ["prcp", "median", "m vs mm", RELAX],
                 id="stations-prcp-metres-declared-mm"),
    pytest.param("stations", dict(fn=lambda df: df.assign(**{"tmean[degC]": df["tmean[degC]"] + 273.15})),
                 ["tmean", "median", "K vs degC"], id="stations-tmean-kelvin-declared-degC"),
    pytest.param("stations", dict(fn=_scale("rad[MJ m-2]", 1000.0)), ["rad", "median", RELAX],
                 id="stations-rad-1000x"),
    pytest.param("stations", dict(fn=_swap(lambda df: df["station"] == df["station"])),
                 ["lon/lat", "swapped"], id="stations-lonlat-swapped-all"),
    pytest.param("stations", dict(fn=lambda df: df.assign(lon=df["lon"] + 60.0)),
                 ["no station lies inside"], id="stations-all-far"),
    pytest.param("stations", dict(fn=lambda df: _dup_id(df)), ["duplicate station ids"],
                 id="stations-duplicate-ids"),
    pytest.param("stations", dict(fn=lambda df: pd.concat([df, df.iloc[:3]])),
                 ["duplicate (station, date) rows"], id="stations-duplicate-rows"),
    pytest.param("landcover", dict(fn=lambda a: np.full_like(a, 255), years=[2010]),
                 ["LC_Type1", "2010", "no cell", "fill"], id="landcover-all-fill-year"),
    pytest.param("boundaries", dict(fn=_drop_feature("Ningxia")), ["Ningxia", "640000", "five provinces"],
                 id="boundaries-without-one-province"),
    pytest.param("boundaries", dict(fn=lambda doc: {**doc, "features": []}), ["no features"],
                 id="boundaries-empty"),
    pytest.param("boundaries", dict(fn=_shrink_feature("Ningxia")), ["Ningxia", "no grid cell", "resolution"],
                 id="boundaries-province-smaller-than-a-cell"),
]


def _dup_id(df):
    """The second station takes the first one's id (different coordinates)."""
    ids = list(dict.fromkeys(df["station"]))
    df.loc[df["station"] == ids[1], "station"] = ids[0]
    return df


@pytest.mark.parametrize("kind, corrupt, texts", ERROR_CASES)
def test_bad_input_is_a_clear_error(scen, tmp_path, kind, corrupt, texts):
    read, bad = _read(kind, scen, tmp_path, **corrupt)
    with pytest.raises(NepInputError) as err:
        read()
    msg = str(err.value)
    assert bad.name in msg, msg
    for t in texts:
        assert t in msg, f"{t!r} not in: {msg}"


def test_relaxed_plausibility_warns_and_reads(scen, tmp_path):
    """``[checks] plausible_ranges = false``: the same file is read, with a warning naming the check."""
    read, bad = _read("npp", scen, tmp_path, **_float_npp(0.001, "g C m-2 a-1"))
    with pytest.warns(NepInputWarning, match="median") as rec:
        ds = read(check_ranges=False)
    assert bad.name in str(rec[0].message) and RELAX in str(rec[0].message)
    assert 0 < float(ds["npp"].sel(year=2005).median()) < 1


def test_npp_huge_values_masked_with_reason_and_counted(scen, tmp_path):
    sp, g = scen
    region = g["region"].values
    rows, cols = np.nonzero(region)
    pick = (rows[::997][:40], cols[::997][:40])

    def fn(raw):
        v = np.where(raw >= 32761, np.nan, raw * 0.1).astype(np.float32)
        v[pick] = 1e6
        return v

    read, bad = _read("npp", scen, tmp_path, fn=fn, tags={"units": "g C m-2 a-1"}, nodata=None)
    with pytest.warns(NepInputWarning, match=r"40 region cells .* outside") as rec:
        ds = read()
    assert bad.name in str(rec[0].message)
    r = ds["npp_reason"].sel(year=2005).values
    assert (r[pick] == reasons.OUT_OF_RANGE).all()
    assert np.isnan(ds["npp"].sel(year=2005).values[pick]).all()
    assert int((r == reasons.OUT_OF_RANGE).sum()) == 40


def test_npp_too_few_valid_years_names_files_and_reasons(scen, tmp_path):
    """Every year has valid NPP, but no pixel in 20 of 24 years (even rows filled in 2000-2004, odd
    rows in 2005-2009): an error before the statistics, not an empty Cv map."""
    sp, g = scen
    d = tmp_path / "npp"
    d.mkdir()
    for f in sorted(Path(sp.npp_glob).parent.glob("*.tif")):
        y = io.year_of(f)
        if y < 2010:
            def fn(raw, parity=int(y >= 2005)):
                out = raw.copy()
                out[parity::2] = 32767
                return out
            _rewrite_tif(f, d / f.name, fn)
        else:
            (d / f.name).symlink_to(f)
    with pytest.raises(NepInputError) as err:
        io.read_npp(str(d / "*.tif"), g, YEARS, min_valid=20)
    msg = str(err.value)
    assert "no region cell has valid NPP in 20 of the 24 years" in msg
    assert "npp_fill_or_non_vegetated" in msg and str(d / "*.tif") in msg


def test_stations_swapped_west_are_dropped_with_ids(scen, tmp_path):
    """Stations west of 90 E with lon/lat swapped land at 73-90 N: dropped (ids in the warning)."""
    sp, _ = scen
    df = pd.read_csv(sp.stations, comment="#", dtype={"station": str})
    west = sorted(df.loc[_west(df), "station"].unique())
    read, bad = _read("stations", scen, tmp_path, fn=_swap(_west))
    with pytest.warns(NepInputWarning, match=rf"{len(west)} stations farther than 200 km") as rec:
        ds = read()
    msg = str(rec[0].message)
    assert bad.name in msg and "[checks] station_max_km" in msg
    assert all(s in msg for s in west[:5])
    assert not set(west) & set(ds["station"].values.tolist())
    assert ds.sizes["station"] == df["station"].nunique() - len(west)
    dropped = json.loads(ds.attrs["stations_dropped"])
    assert sorted(d["station"] for d in dropped) == west


def test_stations_far_dropped_and_distance_relaxed(scen, tmp_path):
    read, bad = _read("stations", scen, tmp_path, fn=_shift_north)
    with pytest.warns(NepInputWarning, match="10 stations farther than 200 km"):
        ds = read()
    n = ds.sizes["station"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", NepInputWarning)
        kept = read(max_distance_km=1e5)
    assert kept.sizes["station"] == n + 10
    assert int((~kept["in_region"].values).sum()) >= 10


def test_landcover_missing_class_warns_naming_it(scen, tmp_path):
    """No wetland anywhere (IGBP 11 recoded to 10): legitimate for some regions, so a loud warning."""
    read, _ = _read("landcover", scen, tmp_path, fn=lambda a: np.where(a == 11, 10, a).astype(a.dtype),
                    years=LC_YEARS)
    with pytest.warns(NepInputWarning, match="wetland .*no region cell in any year read"):
        lc = read()
    assert not (lc.values == 4).any()


def test_default_scenario_reads_without_warnings(scen):
    """The plausibility checks pass the default scenario silently (no false alarms)."""
    sp, g = scen
    with warnings.catch_warnings():
        warnings.simplefilter("error", NepInputWarning)
        io.read_dem(sp.dem, g)
        io.read_npp(sp.npp_glob, g, YEARS, min_valid=20)
        io.read_stations(sp.stations, "csv", g)
        io.read_landcover(sp.landcover_glob, g, LC_YEARS)


# ------------------------------------------------------------------------------------ config cases
CONFIG_CASES = [
    pytest.param("[stats]\nfdr_alpha = 1.5\n", "stats.fdr_alpha", "between 0 and 1", id="fdr_alpha"),
    pytest.param("[stats]\nhurst_null_q = 1.0\n", "stats.hurst_null_q", "between 0 and 1", id="hurst_null_q"),
    pytest.param("[stats]\nn_breaks = 1\n", "stats.n_breaks", ">= 2", id="n_breaks"),
    pytest.param("[stats]\nstable_eps = -0.5\n", "stats.stable_eps", ">= 0", id="stable_eps"),
    pytest.param("[stats]\nhurst_null_sims = 10\n", "stats.hurst_null_sims", ">= 100", id="hurst_null_sims"),
    pytest.param("[stats]\ncv_ddof = 2\n", "stats.cv_ddof", "0 or 1", id="cv_ddof"),
    pytest.param("[stats]\ncorrection = \"bonferroni\"\n", "stats.correction", "none", id="correction"),
    pytest.param("seed = -1\n", "seed", ">= 0", id="seed-negative"),
    pytest.param("scheduler = 5\n", "scheduler", "address", id="scheduler-int"),
    pytest.param("resolution_m = 0\n", "resolution_m", "positive", id="resolution-zero"),
    pytest.param("chunk_xy = 4\n", "chunk_xy", ">= 16", id="chunk_xy"),
    pytest.param("first_year = 2010\nlast_year = 2005\n", "last_year", "not before", id="years-reversed"),
    pytest.param("[checks]\nstation_max_km = 0\n", "checks.station_max_km", "positive", id="station_max_km"),
    pytest.param("[checks]\nplausible_ranges = \"yes\"\n", "checks.plausible_ranges", "true or false",
                 id="plausible_ranges-not-bool"),
    pytest.param("[stats]\nalpha = \"0.05\"\n", "stats.alpha", "between 0 and 1", id="wrong-type"),
    pytest.param("[stats]\nalpah = 0.05\n", "alpah", "unknown key", id="unknown-key"),
    pytest.param("[inputs]\nstations = \"\"\n", "inputs.stations", "path", id="empty-path"),
]


@pytest.mark.parametrize("text, key, rule", CONFIG_CASES)
def test_bad_config_names_file_and_key(tmp_path, text, key, rule):
    path = tmp_path / "nep.toml"
    path.write_text(text)
    with pytest.raises(NepConfigError) as err:
        load_config(path)
    msg = str(err.value)
    assert str(path) in msg and repr(key) in msg and rule in msg, msg


def test_correction_none_is_no_correction(tmp_path):
    path = tmp_path / "nep.toml"
    path.write_text('[stats]\ncorrection = "none"\n[checks]\nstation_max_km = 300\n')
    cfg = load_config(path)
    assert cfg.stats.correction is None and cfg.checks.station_max_km == 300.0


# ------------------------------------------------------------------------------ whole pipeline (slow)
def _digest(out: Path) -> dict:
    files = [out / "results.nc", out / ".outputs.key", *sorted((out / "tables").glob("*.csv")),
             *sorted((out / "maps").glob("*.tif"))]
    return {str(f.relative_to(out)): hashlib.blake2b(f.read_bytes(), digest_size=16).hexdigest()
            for f in files}


@pytest.fixture(scope="module")
def finished_run(default_results, default_config, tmp_path_factory):
    """A copy of the session's default run (shared by the cases below, which fail part way)."""
    out = tmp_path_factory.mktemp("finished") / "run"
    shutil.copytree(default_config.out_dir, out, ignore=shutil.ignore_patterns(".lock"))
    return out


def _inputs(out: Path, **bad) -> dict:
    sp = synthetic.ScenarioPaths.of(out / "scenario")
    base = dict(npp=sp.npp_glob, landcover=sp.landcover_glob, stations=str(sp.stations),
                station_layout="csv", dem=str(sp.dem), boundaries=str(sp.boundaries))
    return {**base, **{k: str(v) for k, v in bad.items()}}


def _bad_dem(sp, work):
    return {"dem": _rewrite_tif(sp.dem, work / "dem.tif",
                                lambda a: np.where(a == -32768, a, a / 1000.0).astype(np.float32))}


def _bad_npp(sp, work):
    d = work / "npp"
    d.mkdir()
    for f in sorted(Path(sp.npp_glob).parent.glob("*.tif")):
        if ".A2005" in f.name:
            _rewrite_tif(f, d / f.name, **_float_npp(1.0, "kg C m-2 a-1"))
        else:
            (d / f.name).symlink_to(f)
    return {"npp": d / "MOD17A3HGF.A*.tif"}


def _bad_boundaries(sp, work):
    path = work / "provinces.geojson"
    path.write_text(json.dumps(_drop_feature("Ningxia")(json.loads(sp.boundaries.read_text()))))
    return {"boundaries": path}


def _bad_stations(sp, work):
    path = work / "stations.csv"
    df = pd.read_csv(sp.stations, comment="#", dtype={"station": str})
    _scale("prcp[mm]", 0.001)(df).to_csv(path, index=False)
    return {"stations": path}


@pytest.mark.slow
@pytest.mark.parametrize("make, stats, text", [
    pytest.param(_bad_dem, {}, "dem.tif", id="dem-km"),
    pytest.param(_bad_npp, {}, "MOD17A3HGF.A2005", id="npp-gC-declared-kgC"),
    pytest.param(_bad_boundaries, {}, "Ningxia", id="boundaries-without-Ningxia"),
    pytest.param(_bad_stations, {}, "stations.csv", id="stations-prcp-metres"),
    pytest.param(None, {"fdr_alpha": 1.5}, "stats.fdr_alpha", id="config-fdr_alpha"),
])
def test_failed_run_leaves_previous_results_unchanged(finished_run, request, make, stats, text):
    """A run that fails on bad input leaves results.nc, tables, maps and .outputs.key as they were."""
    from nep_core.config import Inputs, Stats

    out = finished_run
    sp = synthetic.ScenarioPaths.of(out / "scenario")
    work = out.parent / request.node.callspec.id
    work.mkdir()
    before = _digest(out)
    bad = make(sp, work) if make else {}
    cfg = Config(out_dir=str(out), inputs=Inputs(**_inputs(out, **bad)), stats=Stats(**stats))
    with pytest.raises(NepInputError, match=text):
        pipeline.run(cfg)
    assert _digest(out) == before


def test_cv_masked_everywhere_names_reasons_and_key():
    """NEP mean <= stats.cv_min_mean at every pixel: the classes stage names the Cv reason counts."""
    import dataclasses

    import xarray as xr

    from nep_core import classify, stats

    rng = np.random.default_rng(1)

    def cube(mean, units):
        return xr.DataArray(mean + rng.normal(size=(3, 4, 24)), dims=("y", "x", "year"),
                            coords={"year": np.arange(2000, 2024)}, attrs={"units": units})

    annual = xr.Dataset({"nep": cube(-50.0, "g C m-2 a-1"), "tmean": cube(5.0, "degC"),
                         "prcp": cube(300.0, "mm a-1"), "rad": cube(5000.0, "MJ m-2 a-1")})
    st = Config().stats
    null = stats.hurst_null_table(24, dataclasses.replace(st, hurst_null_sims=200), 1)
    with pytest.raises(NepInputError, match=r"Cv is masked at every pixel.*mean_nonpositive_or_near_zero 12"
                                            r".*stats.cv_min_mean = 10"):
        classify.classify_statistics(stats.per_pixel_statistics(annual, st), null, st)


def test_cli_resolution_zero_is_an_error_not_the_default(tmp_path, capsys):
    from nep_core import cli

    with pytest.raises(SystemExit) as err:
        cli.main(["run", "--resolution", "0", "--out", str(tmp_path / "out")])
    assert err.value.code == 2 and "positive number of metres" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
