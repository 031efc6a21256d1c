"""Station quality control: flag missing, out-of-range, spiky and climatologically implausible values.

QC flag codes (``<var>_flag``, int8; the lowest non-zero code wins): 0 ok; 1 missing (NaN); 2 outside
the physical range (+/-inf too); 3 spike against neighbours; 4 outlier against the station's own
calendar-month climatology.

* Climatology: per station and calendar month, the median of the values not flagged 1/2; anomaly =
  value - median. Precipitation is tested as log(1 + P) (its anomalies are multiplicative). Needs
  ``min_years`` valid values per station-month, else codes 3/4 are not tested (counted in the flag
  attribute ``n_untested``). Scales are 1.4826 * MAD, floored (``_SCALE_FLOOR``) so near-constant
  series cannot give infinite z.
* Spike (3): d = anomaly - median anomaly of the ``k_neighbours`` nearest stations (Albers x, y) at
  the same time step; robust z = (d - median d) / scale, scale = the larger of 1.4826 MAD of d in
  that calendar month and over all months (per station); |z| > ``spike_z`` with >= 3 neighbours.
* Climatology outlier (4): |anomaly / scale| > ``clim_z`` (scale: the larger of the calendar-month
  and the all-month robust anomaly scale) while the neighbours' median robust climatology z stays
  below ``clim_z / 2``: a regionally coherent extreme (heat wave, wet month) is not flagged.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import xarray as xr
from scipy.spatial import cKDTree

from ..errors import NepInputError
from ._common import VARIABLES, check_station_ds, station_xy, variables_of

OK, MISSING, OUT_OF_RANGE, SPIKE, CLIM_OUTLIER = 0, 1, 2, 3, 4
FLAG_MEANINGS = {OK: "ok", MISSING: "missing", OUT_OF_RANGE: "outside_physical_range",
                 SPIKE: "spike_vs_neighbours", CLIM_OUTLIER: "outlier_vs_own_calendar_month_climatology"}

#: physical ranges (inclusive) per time step
MONTHLY_RANGES = {"tmean": (-60.0, 50.0), "prcp": (0.0, 2000.0), "rad": (0.0, 1200.0)}
DAILY_RANGES = {"tmean": (-60.0, 50.0), "prcp": (0.0, 1000.0), "rad": (0.0, 45.0)}

#: floors of robust scales in the QC (units of the (transformed) anomaly)
_SCALE_FLOOR = {"tmean": 0.2, "prcp": 0.05, "rad": 1.0}


def _robust_scale(a, axis, floor):
    """1.4826 * MAD along ``axis`` (NaN-aware), floored."""
    med = _nanmedian(a, axis=axis, keepdims=True)
    mad = _nanmedian(np.abs(a - med), axis=axis, keepdims=True)
    s = 1.4826 * mad
    return med, np.where(np.isfinite(s), np.maximum(s, floor), np.nan)


def qc_stations(ds: xr.Dataset, variables=None, *, k_neighbours: int = 8, spike_z: float = 5.0,
                clim_z: float = 6.0, min_years: int = 8) -> xr.Dataset:
    """Flag missing, out-of-range, spiky and climatologically implausible station values.

    ``ds``: daily or monthly ``(station, time)`` data with coords ``x``, ``y`` (Albers m) and
    ``elevation`` (m); physical ranges (code 2) are ``MONTHLY_RANGES`` or ``DAILY_RANGES`` by time
    step. ``spike_z``, ``clim_z``: robust z thresholds of codes 3 and 4;
    ``min_years``: fewest valid values per station and calendar month for codes 3/4 to be tested.
    Returns ``ds`` with ``<var>_flag`` (int8, station x time) added; values unchanged.
    """
    variables = variables_of(ds, variables)
    step = check_station_ds(ds, variables)
    if step == "annual":
        raise NepInputError("QC expects daily or monthly data", variable="time")
    ranges = MONTHLY_RANGES if step == "monthly" else DAILY_RANGES
    x, y, _ = station_xy(ds)
    n_st = x.size
    k = min(k_neighbours, n_st - 1)
    if k < 3:
        raise NepInputError(f"spike test needs at least 4 stations, got {n_st}", variable="station")
    xy = np.column_stack([x, y])
    nb = cKDTree(xy).query(xy, k=k + 1)[1][:, 1:]                 # neighbours, self excluded
    months = ds["time"].dt.month.values
    out = ds.copy()
    for var in variables:
        v = np.asarray(ds[var].transpose("station", "time").values, dtype=float)
        lo, hi = ranges.get(var, (-np.inf, np.inf))
        missing = np.isnan(v)
        bad_range = ~missing & ((v < lo) | (v > hi) | ~np.isfinite(v))
        usable = ~missing & ~bad_range
        g = np.where(usable, v, np.nan)
        if var == "prcp":
            g = np.log1p(g)
        floor = _SCALE_FLOOR.get(var, 0.0)
        anom = np.full_like(g, np.nan)
        scale = np.full_like(g, np.nan)
        enough = np.zeros(g.shape, bool)
        for m in np.unique(months):
            sel = months == m
            med, s = _robust_scale(g[:, sel], axis=1, floor=floor)
            anom[:, sel] = g[:, sel] - med
            scale[:, sel] = s
            enough[:, sel] = (np.sum(np.isfinite(g[:, sel]), axis=1) >= min_years)[:, None]
        # a calendar-month MAD from 8-24 values is noisy: floor it at the station's pooled
        # (all months) anomaly scale
        _, pooled = _robust_scale(anom, axis=1, floor=floor)
        zc = anom / np.maximum(scale, pooled)
        anom = np.where(enough, anom, np.nan)
        nb_anom = anom[nb]                                   # (station, k, time)
        n_nb = np.sum(np.isfinite(nb_anom), axis=1)
        nb_med = _nanmedian(nb_anom, axis=1)
        d = anom - nb_med
        # robust scale of d per station and calendar month (spread differs by season), floored at
        # the station's all-month scale
        _, dpool = _robust_scale(d, axis=1, floor=floor)
        zs = np.full_like(d, np.nan)
        for m in np.unique(months):
            sel = months == m
            dmed, dsc = _robust_scale(d[:, sel], axis=1, floor=floor)
            zs[:, sel] = (d[:, sel] - dmed) / np.maximum(dsc, dpool)
        spike = usable & enough & (n_nb >= 3) & (np.abs(np.nan_to_num(zs)) > spike_z)
        nb_zc = _nanmedian(np.where(enough, zc, np.nan)[nb], axis=1)
        clim = (usable & enough & (np.abs(np.nan_to_num(zc)) > clim_z)
                & (np.abs(np.nan_to_num(nb_zc)) < clim_z / 2))
        n_untested = int((usable & ~enough).sum())
        flag = np.select([missing, bad_range, spike, clim], [MISSING, OUT_OF_RANGE, SPIKE, CLIM_OUTLIER], OK)
        out[f"{var}_flag"] = (("station", "time"), flag.astype(np.int8))
        out[f"{var}_flag"].attrs = {
            "long_name": f"QC flag of {var}", "units": "1",
            "flag_values": np.array(sorted(FLAG_MEANINGS), dtype=np.int8),
            "flag_meanings": " ".join(FLAG_MEANINGS[c] for c in sorted(FLAG_MEANINGS)),
            "description": (
                f"range [{lo}, {hi}] {ds[var].attrs.get('units')}; spike: |robust z| > {spike_z} of "
                f"the anomaly minus the median anomaly of the {k} nearest stations; climatology: "
                f"|robust z| > {clim_z} vs the station's calendar-month median/MAD while the "
                f"neighbours' median z < {clim_z / 2}"
                + ("; precipitation tested as log(1 + P)" if var == "prcp" else "")
                + f"; spike and climatology tests need >= {min_years} valid values per station and "
                  f"calendar month ({n_untested} values could not be tested)"),
            "n_untested": n_untested,
        }
    return out


def _nanmedian(a, axis, keepdims=False):
    """``np.nanmedian`` without the warning of an all-NaN slice (expected: no valid January)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(a, axis=axis, keepdims=keepdims)


def qc_summary(ds: xr.Dataset) -> pd.DataFrame:
    """Count QC flags per variable (rows) and code (columns), plus ``n_values`` and ``n_filled``."""
    rows = []
    for var in VARIABLES:
        if f"{var}_flag" not in ds:
            continue
        f = ds[f"{var}_flag"].values
        row = {"variable": var, "n_values": int(f.size)}
        for code, name in sorted(FLAG_MEANINGS.items()):
            row[f"{code}_{name}"] = int(np.sum(f == code))
        if f"{var}_filled" in ds:
            row["n_filled"] = int(ds[f"{var}_filled"].values.sum())
        rows.append(row)
    return pd.DataFrame(rows).set_index("variable")
