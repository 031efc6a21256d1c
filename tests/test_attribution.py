"""Attribution of the NEP trend (nep_core.attribution): oracles, properties, gridded == per-pixel,
numpy == dask, reason codes, recovery of the planted split on the default scenario, tables, figures."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import xarray as xr  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from fake_results import make_fake_results  # noqa: E402
from nep_core import figures, reasons, tables  # noqa: E402
from nep_core.attribution import ATTRIBUTION_CLASSES, _classes, attribution, attribution_of  # noqa: E402
from nep_core.errors import NepInputError  # noqa: E402
from nep_core.stats import sen_mk  # noqa: E402

YEARS = np.arange(2000, 2024)
T = YEARS - YEARS.mean()


def _v(da) -> float:
    return float(np.asarray(da).ravel()[0])


def _pixel(nep, drivers):
    """One pixel as (year, 1, 1) cubes."""
    def mk(v, u):
        return xr.DataArray(np.asarray(v, float).reshape(-1, 1, 1), dims=("year", "y", "x"),
                            coords={"year": YEARS}, attrs={"units": u})
    return mk(nep, "g C m-2 a-1"), {k: mk(v, "1") for k, v in drivers.items()}


def _drivers(seed, trends=(0.04, 0.5, 5.0), detrend=False):
    rng = np.random.default_rng(seed)
    d = {"tmean": 5 + trends[0] * T + 0.5 * rng.standard_normal(T.size),
         "prcp": 300 + trends[1] * T + 40 * rng.standard_normal(T.size),
         "rad": 5000 + trends[2] * T + 60 * rng.standard_normal(T.size)}
    if detrend:   # anomalies exactly orthogonal to the years (and centred)
        d = {k: v - np.polyval(np.polyfit(T, v, 1), T) + v.mean() for k, v in d.items()}
    return d


coef = st.floats(-50, 50).filter(lambda x: abs(x) > 1e-3)


# ----------------------------------------------------------------------------------- properties
@given(seed=st.integers(0, 2**32 - 1), a=st.floats(-200, 500), bt=coef, bp=st.floats(-1, 1),
       br=st.floats(-0.2, 0.2), method=st.sampled_from(["restrend", "restrend_time"]))
def test_pure_climate_pixel_has_no_human_part(seed, a, bt, bp, br, method):
    d = _drivers(seed)
    nep = a + bt * d["tmean"] + bp * d["prcp"] + br * d["rad"]
    out = attribution(*_pixel(nep, d), method=method)
    total = abs(_v(sen_mk(_pixel(nep, d)[0]).slope))
    assert abs(_v(out.slope_human)) <= 1e-6 * (1 + total)
    assert _v(out.slope_climate) == pytest.approx(_v(sen_mk(_pixel(nep, d)[0]).slope), abs=1e-6 * (1 + total))
    assert _v(out.r2) == pytest.approx(1.0, abs=1e-9)


@given(seed=st.integers(0, 2**32 - 1), h=st.floats(-20, 20), bt=coef, bp=st.floats(-1, 1))
def test_planted_residual_trend_goes_to_the_human_part(seed, h, bt, bp):
    # drivers without a trend (exactly orthogonal to the years): RESTREND gives h to the human part
    d = _drivers(seed, detrend=True)
    nep = 100 + bt * d["tmean"] + bp * d["prcp"] + h * T
    out = attribution(*_pixel(nep, d), method="restrend")
    assert _v(out.slope_human) == pytest.approx(h, abs=1e-6 * (1 + abs(h) + abs(bt)))
    # drivers WITH trends: the year-controlled fit still gives exactly h to the human part
    d = _drivers(seed)
    nep = 100 + bt * d["tmean"] + bp * d["prcp"] + h * T
    out = attribution(*_pixel(nep, d), method="restrend_time")
    assert _v(out.slope_human) == pytest.approx(h, abs=1e-6 * (1 + abs(h) + abs(bt)))


def test_restrend_gives_part_of_a_collinear_human_trend_to_climate():
    """The documented limitation: a non-climatic trend aligned with the drivers' trends leaks."""
    d = _drivers(1, trends=(0.1, 0.0, 0.0))
    nep = 100 + 5.0 * T
    out = attribution(*_pixel(nep, d), method="restrend")
    assert 0.5 < _v(out.slope_climate) < 5.0 and _v(out.slope_human) < 4.5


# --------------------------------------------------------------------------------- class oracle
@pytest.mark.parametrize("s_cc, s_ha, code, share", [
    (1.0, 3.0, 1, 75.0), (2.0, -1.0, 2, 0.0), (-1.0, 2.0, 3, 100.0), (-1.0, -3.0, 4, 75.0),
    (-2.0, 1.0, 5, 0.0), (1.0, -2.0, 6, 100.0), (0.0, 0.0, 0, np.nan), (np.nan, 1.0, 0, np.nan),
    (0.0, 2.0, 3, 100.0), (2.0, 0.0, 2, 0.0)])
def test_scenario_rule(s_cc, s_ha, code, share):
    c, sh = _classes(np.array([s_cc]), np.array([s_ha]))
    assert c[0] == code
    np.testing.assert_equal(sh[0], share)


def test_class_table_declares_six_scenarios():
    assert ATTRIBUTION_CLASSES["code"].tolist() == list(range(7))
    assert ATTRIBUTION_CLASSES["name"].is_unique


# ------------------------------------------------------------------- gridded == per-pixel, dask
@pytest.fixture(scope="module")
def grid():
    rng = np.random.default_rng(7)
    ny, nx = 5, 6
    d = {k: np.stack([np.stack([_drivers(int(rng.integers(1e9)))[k] for _ in range(nx)], -1)
                      for _ in range(ny)], 1) for k in ("tmean", "prcp", "rad")}
    h = rng.normal(0, 3, (ny, nx))
    nep = (150 + 10 * d["tmean"] + 0.3 * d["prcp"] + h * T[:, None, None]
           + 5 * rng.standard_normal((T.size, ny, nx)))
    nep[:, 0, 0] = np.nan                       # ALL_NAN
    nep[:8, 0, 1] = np.nan                      # 16 valid years < 20: TOO_FEW_VALID
    d["rad"][:, 0, 2] = np.nan                  # NO_COVARIATE
    d["prcp"][:, 0, 3] = 300.0                  # constant driver: CONSTANT
    mk = lambda v, u: xr.DataArray(v, dims=("year", "y", "x"), coords={"year": YEARS},  # noqa: E731
                                   attrs={"units": u})
    return xr.Dataset({"nep": mk(nep, "g C m-2 a-1"), **{k: mk(v, "1") for k, v in d.items()}})


@pytest.mark.parametrize("method", ["restrend", "restrend_time"])
def test_gridded_equals_per_pixel_and_dask_equals_numpy(grid, method):
    full = attribution_of(grid, method)
    lazy = attribution_of(grid.chunk({"y": 2, "x": 4}), method)
    assert lazy["attr_slope_human"].chunks is not None
    xr.testing.assert_allclose(full, lazy.compute())
    for iy in range(grid.sizes["y"]):
        for ix in range(grid.sizes["x"]):
            one = attribution_of(grid.isel(y=[iy], x=[ix]), method)
            xr.testing.assert_allclose(one, full.isel(y=[iy], x=[ix]))


def test_reason_codes_and_attrs(grid):
    out = attribution_of(grid)
    r = out["attr_reason"].values[0]
    assert r[:4].tolist() == [reasons.ALL_NAN, reasons.TOO_FEW_VALID, reasons.NO_COVARIATE, reasons.CONSTANT]
    assert np.all(out["attr_reason"].values[1:] == reasons.VALID)
    bad = out["attr_reason"].values != reasons.VALID
    assert np.all(np.isnan(out["attr_slope_human"].values[bad]))
    assert np.all(out["attr_class"].values[bad] == 0)
    assert out["attr_slope_human"].attrs["units"] == "g C m-2 a-2"
    assert out["attr_share_human"].attrs["units"] == "%"
    assert out["attr_class"].attrs["method"] == "restrend" and out["attr_reason"].attrs["min_valid"] == 20
    np.testing.assert_allclose((out["attr_share_human"] + out["attr_share_climate"]).values[~bad], 100.0)


def test_bad_input_is_named():
    nep, d = _pixel(np.arange(24.0), _drivers(0))
    with pytest.raises(NepInputError, match="method"):
        attribution(nep, d, method="ols")
    with pytest.raises(NepInputError, match="tmean"):
        attribution(nep, {**d, "tmean": d["tmean"].isel(year=slice(0, 10))})


# --------------------------------------------------------------------- the planted split (5 km)
def test_recovers_planted_split_on_default_scenario(default_results):
    rec = tables.attribution_recovery(default_results)
    time_fit = rec.loc[("year-controlled fit", "human", "all pixels")]
    # year-controlled fit: unbiased within 0.05 g C m-2 a-2 (planted mean 3.1), RMSE < 1.0, r > 0.95
    assert abs(time_fit["bias (g C m-2 a-2)"]) < 0.05
    assert time_fit["RMSE (g C m-2 a-2)"] < 1.0 and time_fit["Pearson r (1)"] > 0.95
    loess = rec.loc[("year-controlled fit", "human", "Loess Plateau afforestation")]
    assert loess["planted mean (g C m-2 a-2)"] > 10
    assert abs(loess["recovered mean (g C m-2 a-2)"] / loess["planted mean (g C m-2 a-2)"] - 1) < 0.05
    # RESTREND (drivers only) recovers 0.69 of the planted human mean: the part collinear with the
    # drivers' planted trends goes to climate (pinned: 2.16 of 3.12 g C m-2 a-2 on this scenario)
    rs = rec.loc[("RESTREND (drivers only)", "human", "all pixels")]
    ratio = rs["recovered mean (g C m-2 a-2)"] / rs["planted mean (g C m-2 a-2)"]
    assert ratio == pytest.approx(0.693, abs=0.02)
    assert rs["Pearson r (1)"] > 0.95


def test_attribution_in_results_store_and_tables(default_results):
    ds = default_results.ds
    for v in ("attr_slope_climate", "attr_slope_human", "attr_class", "attr_share_human", "attr_reason"):
        assert v in ds and "units" in ds[v].attrs, v
    assert ds["attr_slope_human"].attrs["method"] == "restrend"
    for name in ("attribution_by_province", "attribution_by_landcover", "attribution_recovery"):
        assert name in default_results.tables
    prov = default_results.tables["attribution_by_province"]
    shares = prov[[c for c in prov.columns if ": " in c and c.endswith("(%)")]]
    np.testing.assert_allclose(shares.sum(axis=1), 100.0)
    assert prov.loc["NWC", "area (km2)"] == pytest.approx(prov["area (km2)"].drop("NWC").sum())
    # the planted afforestation makes Shaanxi's trend mostly human
    assert prov.loc["Shaanxi", "human share of the mean trend (%)"] > 60


# --------------------------------------------------------------------- tables and figures (fake)
@pytest.fixture(scope="module")
def fake():
    r = make_fake_results()
    ds = r.ds
    a = attribution_of(ds[["nep", "tmean", "prcp", "rad"]])
    b = attribution_of(ds[["nep", "tmean", "prcp", "rad"]], "restrend_time", prefix="attr_time_")
    for v in a.data_vars:
        ds[v] = a[v]
    for v in ("slope_climate", "slope_human", "share_human", "class"):
        ds[f"attr_time_{v}"] = b[f"attr_time_{v}"]
    t = r.truth
    t["nep_slope_planted_human"] = ds["attr_time_slope_human"] + 0.2
    t["nep_slope_planted_climate"] = ds["attr_time_slope_climate"] - 0.2
    t["landcover"] = ds["landcover"]
    t["no_trend_mask"] = xr.zeros_like(ds["province"])
    t["human_region"] = xr.where(ds["x"] < ds["x"].median(), 1, 0).astype(np.int8).assign_attrs(
        flag_values=np.array([1], np.int8), flag_meanings="afforestation")
    return r


def test_attribution_tables_on_fake_store(fake):
    for fn in (tables.attribution_by_province, tables.attribution_by_landcover):
        t = fn(fake)
        assert "NWC" in t.index and all("(" in c for c in t.columns)
    rec = tables.attribution_recovery(fake)
    row = rec.loc[("year-controlled fit", "human", "all pixels")]
    assert row["bias (g C m-2 a-2)"] == pytest.approx(-0.2, abs=1e-9)
    assert set(rec.index.get_level_values("planted region")) == {"all pixels", "afforestation"}
    with pytest.raises(NepInputError, match="nep_slope_planted_human"):
        tables.attribution_recovery(fake.ds, truth=xr.Dataset())


@pytest.mark.parametrize("name, panels", [("fig_attribution_maps", 4), ("fig_attribution_recovery", 2)])
def test_attribution_figures(fake, name, panels):
    fig = getattr(figures, name)(fake)
    try:
        assert isinstance(fig, plt.Figure)
        assert len(figures.panel_axes(fig)) == panels
    finally:
        plt.close(fig)
