"""A small fake results store that follows the ARCHITECTURE.md results schema exactly (test-only).

It is NOT the synthetic scenario (``nep_synthetic``): the values are cheap seeded noise with the
right names, dims, dtypes, units and CF class attributes, so figure, table and zonal code can be tested
without running the pipeline. Classes are assigned with simple thresholds here (test data only).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from nep_core.config import Config

SEED = 12345
YEARS = np.arange(2000, 2024)
LC_YEARS = np.arange(2000, 2023)

TREND_FLAGS = ("extremely_significant_decrease significant_decrease weakly_significant_decrease "
               "non_significant_decrease stable non_significant_increase weakly_significant_increase "
               "significant_increase extremely_significant_increase")
NEP_FLAGS = "carbon_source low_carbon_sink medium_carbon_sink high_carbon_sink"
CV_FLAGS = ("low_fluctuation relatively_low_fluctuation medium_fluctuation "
            "relatively_high_fluctuation high_fluctuation")
PERSIST_FLAGS = ("continuous_increase increase_then_decrease decrease_then_increase "
                 "continuous_decrease no_trend_or_undetermined")
LC_FLAGS = "forest grassland cropland wetland urban_and_built-up water barren"


def _flags(names: str, long_name: str, **extra) -> dict:
    n = len(names.split())
    return {"long_name": long_name, "flag_values": np.arange(1, n + 1, dtype=np.int8),
            "flag_meanings": names, "units": "1", **extra}


@dataclass
class FakeResults:
    """Mimics ``nep_core.pipeline.Results``: ``.ds``, ``.tables``, ``.stations``, ``.truth``..."""

    ds: xr.Dataset
    tables: dict
    stations: xr.Dataset
    truth: xr.Dataset
    provinces: list | None = None
    config: Config = field(default_factory=Config)


def make_fake_ds(ny: int = 24, nx: int = 32, seed: int = SEED) -> xr.Dataset:
    """A results Dataset on a ``ny x nx`` Albers grid (20 km cells) with the full schema."""
    rng = np.random.default_rng(seed)
    cell = 20_000.0
    x = -600_000.0 + cell * (np.arange(nx) + 0.5)
    y = 4_700_000.0 - cell * (np.arange(ny) + 0.5)               # descending
    yy, xx = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
    province = (1 + (xx * 5) // nx).astype(np.int8)               # five vertical bands
    outside = (yy + xx < 4) | (yy - xx > ny - 3)                  # two cut corners
    province[outside] = 0
    inside = province > 0
    region = inside.astype(np.int8)
    cell_area = np.full((ny, nx), cell * cell / 1e6) * (1 + 0.01 * (yy - ny / 2) / ny)
    elevation = np.where(inside, 500 + 3000 * np.exp(-((xx - nx * 0.3) ** 2 + (yy - ny * 0.7) ** 2)
                                                   / (0.1 * nx * ny)), np.nan)
    drywet = np.where(inside, 1 + (yy * 4) // ny, 0).astype(np.int8)

    nt = YEARS.size
    t = (YEARS - YEARS.mean())[:, None, None]
    slope_true = 6.0 * rng.standard_normal((ny, nx)) + 3.0
    base = 150 + 60 * province.astype(float) + 40 * rng.standard_normal((ny, nx))
    npp = base + 120 + slope_true * t + 25 * rng.standard_normal((nt, ny, nx))
    rh = 120 + 5 * rng.standard_normal((nt, ny, nx))
    nep = npp - rh

    def m(a):
        return np.where(inside, a, np.nan)

    lc0 = rng.choice(np.arange(1, 8), size=(ny, nx), p=[.05, .38, .07, .01, .01, .02, .46])
    lc = np.repeat(lc0[None], LC_YEARS.size, axis=0)
    for i in range(1, LC_YEARS.size):                              # a few changes per year
        flip = rng.random((ny, nx)) < 0.008
        lc[i:, flip] = rng.integers(1, 8, size=flip.sum())
    lc = np.where(inside[None], lc, 0).astype(np.int8)

    tmean = m(5 + 0.04 * t + rng.standard_normal((nt, ny, nx)) - elevation / 1000)
    prcp = m(300 + 2 * t + 40 * rng.standard_normal((nt, ny, nx)))
    rad = m(5500 + 5 * t + 100 * rng.standard_normal((nt, ny, nx)))

    nep_mean = m(nep.mean(0))
    slope = m(slope_true + 0.5 * rng.standard_normal((ny, nx)))
    z = m(slope / 2.0 + 0.5 * rng.standard_normal((ny, nx)))
    from scipy.stats import norm
    p = m(2 * norm.sf(np.abs(np.nan_to_num(z))))
    hurst = m(0.65 + 0.12 * rng.standard_normal((ny, nx)))

    def cut(a, edges):
        return np.where(inside, 1 + np.digitize(np.nan_to_num(a), edges), 0).astype(np.int8)

    zt = np.where(np.abs(np.nan_to_num(slope)) < 0.5, 0, np.nan_to_num(z))
    trend_class = np.where(inside, np.select(
        [zt < -2.576, zt < -1.96, zt < -1.645, zt < 0, zt == 0, zt <= 1.645, zt <= 1.96, zt <= 2.576],
        [1, 2, 3, 4, 5, 6, 7, 8], 9), 0).astype(np.int8)
    cv = m(np.abs(rng.normal(0.19, 0.07, (ny, nx))))
    cv_edges = [0.12, 0.18, 0.25, 0.33]
    inc = np.nan_to_num(slope) > 0
    pers = np.where(inside, np.select([inc & (hurst > 0.5), inc, ~inc & (hurst > 0.5)], [1, 2, 4], 3),
                    0).astype(np.int8)
    pers_cal = np.where(inside, np.select([inc & (hurst > 0.8), inc, ~inc & (hurst > 0.8)], [1, 2, 4], 3),
                        0).astype(np.int8)
    reason = np.where(inside, 0, 7).astype(np.int8)

    yx = ("y", "x")
    nep_u = {"units": "g C m-2 a-1"}
    slope_u = {"units": "g C m-2 a-2"}
    data = {
        "province": (yx, province, {"long_name": "province code", "units": "1"}),
        "region": (yx, region, {"long_name": "study region mask", "units": "1"}),
        "cell_area": (yx, cell_area, {"long_name": "cell area", "units": "km2"}),
        "elevation": (yx, elevation, {"long_name": "elevation", "units": "m"}),
        "drywet": (yx, drywet, {"long_name": "dry/wet zone", "units": "1",
                                "flag_values": np.arange(1, 5, dtype=np.int8),
                                "flag_meanings": "arid semi_arid semi_humid humid"}),
        "landcover": (("lc_year", "y", "x"), lc, _flags(LC_FLAGS, "land cover (7 classes)")),
        "npp": (("year", *yx), m(npp), {**nep_u, "long_name": "net primary productivity"}),
        "rh": (("year", *yx), m(rh), {**nep_u, "long_name": "soil heterotrophic respiration"}),
        "nep": (("year", *yx), m(nep), {**nep_u, "long_name": "net ecosystem productivity"}),
        "tmean": (("year", *yx), tmean, {"units": "degC", "long_name": "annual mean air temperature"}),
        "prcp": (("year", *yx), prcp, {"units": "mm a-1", "long_name": "annual precipitation"}),
        "rad": (("year", *yx), rad, {"units": "MJ m-2 a-1", "long_name": "annual solar radiation"}),
        "nep_mean": (yx, nep_mean, {**nep_u, "long_name": "multi-year mean NEP"}),
        "nep_class": (yx, cut(nep_mean, [0, 200, 400]), _flags(NEP_FLAGS, "NEP sink class")),
        "trend_slope": (yx, slope, {**slope_u, "long_name": "Theil-Sen slope of NEP"}),
        "trend_slope_low": (yx, slope - 1, slope_u),
        "trend_slope_high": (yx, slope + 1, slope_u),
        "trend_intercept": (yx, nep_mean, nep_u),
        "trend_s": (yx, m(np.round(z * 40)), {"units": "1"}),
        "trend_var_s": (yx, m(np.full((ny, nx), 1624.67)), {"units": "1"}),
        "trend_z": (yx, z, {"units": "1"}),
        "trend_p": (yx, p, {"units": "1"}),
        "trend_tau": (yx, m(z / 10), {"units": "1"}),
        "trend_n_valid": (yx, np.where(inside, 24, 0).astype(np.int16), {"units": "1"}),
        "trend_reason": (yx, reason, {"units": "1"}),
        "trend_class": (yx, trend_class, _flags(TREND_FLAGS, "Mann-Kendall trend class (Table 1)")),
        "trend_sig_fdr": (yx, np.where(inside, np.nan_to_num(p) < 0.01, False), {"units": "1"}),
        "cv": (yx, cv, {"units": "1", "long_name": "coefficient of variation of NEP"}),
        "cv_reason": (yx, reason, {"units": "1"}),
        "cv_class": (yx, cut(cv, cv_edges), _flags(CV_FLAGS, "Cv class (Fisher-Jenks)",
                                                    breaks=np.array([0.0, *cv_edges, 0.6]))),
        "hurst": (yx, hurst, {"units": "1", "long_name": "Hurst exponent (prefix R/S)"}),
        "hurst_prefix": (yx, hurst, {"units": "1"}),
        "hurst_diff": (yx, m(hurst - 0.25), {"units": "1"}),
        "hurst_alp": (yx, m(hurst - 0.15), {"units": "1"}),
        "hurst_reason": (yx, reason, {"units": "1"}),
        "persistence_class": (yx, pers, _flags(PERSIST_FLAGS, "trend x Hurst class (H > 0.5)",
                                               threshold=0.5)),
        "persistence_class_calibrated": (yx, pers_cal, _flags(PERSIST_FLAGS,
                                                               "trend x Hurst class (null q95)",
                                                               threshold=0.8)),
    }
    for c in ("hamed_rao", "yue_wang", "tfpw"):
        zc = m(np.nan_to_num(z) * 0.8)
        data[f"trend_z_{c}"] = (yx, zc, {"units": "1"})
        data[f"trend_p_{c}"] = (yx, m(2 * norm.sf(np.abs(np.nan_to_num(zc)))), {"units": "1"})
    for v, r0 in (("tmean", 0.3), ("prcp", 0.35), ("rad", -0.1)):
        r = m(np.clip(r0 + 0.25 * rng.standard_normal((ny, nx)), -0.99, 0.99))
        tstat = np.nan_to_num(r) * np.sqrt(20 / (1 - np.nan_to_num(r) ** 2))
        from scipy.stats import t as tdist
        data[f"pcorr_r_{v}"] = (yx, r, {"units": "1", "long_name": f"partial r of NEP with {v}"})
        data[f"pcorr_p_{v}"] = (yx, m(2 * tdist.sf(np.abs(tstat), 20)), {"units": "1"})
    ds = xr.Dataset(data, coords={"year": YEARS, "lc_year": LC_YEARS, "y": y, "x": x})
    ds.attrs["synthetic"] = 1
    return ds


def make_fake_results(ny: int = 24, nx: int = 32, seed: int = SEED) -> FakeResults:
    """A ``FakeResults`` with the Dataset, station set, planted truth and side tables."""
    ds = make_fake_ds(ny, nx, seed)
    rng = np.random.default_rng(seed + 1)
    ns = 12
    inside = np.argwhere(ds.province.values > 0)
    pick = inside[rng.choice(len(inside), ns, replace=False)]
    time = pd.date_range("2000-01-01", "2023-12-01", freq="MS")
    stations = xr.Dataset(
        {"tmean": (("station", "time"), rng.normal(5, 10, (ns, time.size)), {"units": "degC"}),
         "prcp": (("station", "time"), rng.gamma(2, 15, (ns, time.size)), {"units": "mm"}),
         "rad": (("station", "time"), rng.normal(450, 80, (ns, time.size)), {"units": "MJ m-2"})},
        coords={"station": [f"S{i:03d}" for i in range(ns)], "time": time,
                "x": ("station", ds.x.values[pick[:, 1]]), "y": ("station", ds.y.values[pick[:, 0]]),
                "lon": ("station", rng.uniform(80, 110, ns)), "lat": ("station", rng.uniform(32, 48, ns)),
                "elevation": ("station", rng.uniform(200, 4000, ns))})
    truth = xr.Dataset({"trend_slope": ds.trend_slope + 0.3 * rng.standard_normal(ds.trend_slope.shape)})
    truth["trend_slope"].attrs = {"units": "g C m-2 a-2", "long_name": "planted NEP slope"}
    tables = {
        "interpolation_cv": pd.DataFrame({"variable": ["tmean", "prcp", "rad"],
                                          "rmse": [0.8, 35.0, 120.0],
                                          "units": ["degC", "mm a-1", "MJ m-2 a-1"]}),
        "qc_summary": pd.DataFrame({"check": ["range", "spike"], "flagged_values": [3, 11]}),
        "hurst_null": pd.DataFrame({"method": ["prefix"] * 3, "n": [24] * 3,
                                    "quantile": [0.5, 0.9, 0.95], "hurst": [0.64, 0.76, 0.80]}),
        "rh_sensitivity": pd.DataFrame({
            "parameter": np.repeat(["a", "b", "c"], 3),
            "change_pct": np.tile([-10.0, 0.0, 10.0], 3),
            "nep_mean_g C m-2 a-1": [230, 217, 204, 225, 217, 207, 220, 217, 214],
            "sink_share_pct": [99.8, 99.7, 99.5, 99.8, 99.7, 99.6, 99.7, 99.7, 99.7]}),
    }
    return FakeResults(ds=ds, tables=tables, stations=stations, truth=truth)
