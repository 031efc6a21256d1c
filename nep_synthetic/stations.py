"""Synthetic climate stations: a seeded network, monthly values from the closed-form climate, faults.

350 seeded sites inside the region, denser where it is wetter (the populated east), elevation = DEM
at the site + N(0, 25 m), monthly values = the climate functions + small local noise (0.15 degC,
3 % P, 1.5 % radiation), rounded to 0.01; then 1.5 % of values set missing (plus six-month gaps at
five stations) and 0.3 % replaced by outliers, all listed in ``station_faults.csv``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from nep_core import io as nio
from nep_core.crs import lonlat_to_xy
from nep_core.store import atomic_path
from nep_core.vocab import PROVINCES
from ._common import SYNTHETIC_NOTE, shipped
from .climate import climatology, modes, month_fields


def place_stations(rng, bounds, tfield, n=350):
    """Seeded station table (station, lon, lat, elevation, province), sorted by WMO-like id."""
    import shapely

    union = shapely.union_all([b.geometry for b in bounds])
    lon0, lat0, lon1, lat1 = union.bounds
    lons, lats = [], []
    while len(lons) < n:
        lo = rng.uniform(lon0, lon1, 4000)
        la = rng.uniform(lat0, lat1, 4000)
        inside = shapely.contains_xy(union, lo, la)
        lo, la = lo[inside], la[inside]
        x, y = lonlat_to_xy(lo, la)
        p = climatology(lo, la, x, y, np.zeros_like(lo), tfield)["pann"]
        w = np.clip(p / 600.0, 0.02, 1.0) ** 0.9
        keep = rng.random(lo.size) < w
        lons.extend(lo[keep].tolist())
        lats.extend(la[keep].tolist())
    lon = np.array(lons[:n])
    lat = np.array(lats[:n])
    prov = np.zeros(n, np.int8)
    for b in bounds:
        prov[shapely.contains_xy(b.geometry, lon, lat) & (prov == 0)] = b.code
    elev = np.maximum(_dem_interpolator()(np.column_stack([lat, lon])) + rng.normal(0, 25, n), -150.0)
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
    """Bilinear interpolator of the shipped 0.2 deg DEM at (lat, lon) points."""
    from scipy.interpolate import RegularGridInterpolator

    raw, _, tf, _ = nio.read_geotiff(shipped("nwc_dem_0p2deg.tif"))
    a = raw.astype(float)
    lat = tf.f + tf.e * (np.arange(a.shape[0]) + 0.5)
    lon = tf.c + tf.a * (np.arange(a.shape[1]) + 0.5)
    return RegularGridInterpolator((lat[::-1], lon), a[::-1], bounds_error=False, fill_value=None)


def write_stations(root, st, nc, years, coefs, tfield, rng):
    """Monthly station values (true and observed with faults), CSV + truth variables + fault table."""
    n, nt = len(st), 12 * len(years)
    x, y = lonlat_to_xy(st["lon"].values, st["lat"].values)
    clim = climatology(st["lon"].values, st["lat"].values, x, y, st["elevation"].values, tfield)
    md = modes(x, y)
    tc = np.array(years, float) - (years[0] + years[-1]) / 2.0
    true = {k: np.empty((n, nt), np.float64) for k in ("tmean", "prcp", "rad")}
    for iy, t in enumerate(tc):
        for m in range(1, 13):
            for k, vals in zip(true, month_fields(clim, md, coefs, iy, t, m)):
                true[k][:, iy * 12 + m - 1] = vals
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
            rows.append(pd.DataFrame({"station": st["station"].values[si],
                                      "date": times[ti].strftime("%Y-%m"), "variable": v, "kind": kind,
                                      "clean_value": clean[v][si, ti],
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
            v = nc.createVariable(f"station_{k}_{kind}", "f8", ("station", "time"), fill_value=np.nan,
                                  zlib=True)
            v[:] = arr
            v.setncatts({"units": units + " per month" if k != "tmean" else units, "long_name": long})
    return {"n": int(n), "missing": int((faults["kind"] == "missing").sum()),
            "outliers": int((faults["kind"] == "outlier").sum()),
            "per_province": {p.name: int((st["province"] == p.code).sum()) for p in PROVINCES}}
