"""Station climate tables (two layouts, see :func:`read_stations`) and the CSV writer."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from .. import reasons
from ..crs import CRS_ALBERS, grid_transform, lonlat_to_xy
from ..errors import NepInputError
from ..vocab import CLIMATE_QUANTITIES, unit_conversion

STATION_VARS = tuple(CLIMATE_QUANTITIES)
#: Units of the station Dataset (totals per time step: an accepted spelling of each step's unit).
STATION_UNITS = {"tmean": "degC", "prcp": "mm", "rad": "MJ m-2"}
#: Quantity (``nep_core.vocab.QUANTITIES``) of each column with a declared unit (``{step}`` = daily
#: or monthly); the declared unit is converted with ``vocab.unit_conversion`` (e.g. K, cm, kJ m-2, km).
_QUANTITY = {**CLIMATE_QUANTITIES, "elevation": "elevation"}
#: Plausible medians (canonical units) per time step; outside -> "check the declared unit".
_PLAUSIBLE_MEDIAN = {
    "daily": {"tmean": (-40.0, 40.0), "prcp": (0.0, 50.0), "rad": (0.0, 40.0)},
    "monthly": {"tmean": (-40.0, 40.0), "prcp": (0.0, 600.0), "rad": (0.0, 1100.0)},
}
CMA_MISSING = 32766
CMA_COLUMNS = ("station", "lat_ddmm", "lon_dddmm", "elev_01m", "year", "month", "day",
               "tmean_01C", "prcp_01mm", "rad_001MJ")

_HEADER = re.compile(r"^\s*([A-Za-z_]\w*)\s*(?:\[\s*([^\]]*?)\s*\])?\s*$")


def _parse_header(columns, file):
    names, units = [], {}
    for c in columns:
        m = _HEADER.match(str(c))
        if not m:
            raise NepInputError(f"column header {c!r} is not 'name' or 'name[unit]'", file=file)
        names.append(m.group(1).lower())
        if m.group(2) is not None:
            units[m.group(1).lower()] = m.group(2)
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise NepInputError(f"duplicate columns {sorted(dup)}", file=file)
    return names, units


def _numeric(s, name, file):
    out = pd.to_numeric(s, errors="coerce")
    bad = out.isna() & s.notna() & ~s.astype(str).str.strip().str.upper().isin(["", "NA", "NAN"])
    if bad.any():
        i = int(np.flatnonzero(bad.values)[0])
        raise NepInputError(f"non-numeric value {s.iloc[i]!r} in data row {i + 1}", file=file,
                            variable=name)
    return out.astype(float)


def _convert(values, var, unit, step, file):
    if unit is None:
        raise NepInputError(f"no unit declared for {var}; write the header as "
                            f"'{var}[{STATION_UNITS.get(var, 'm')}]'", file=file, variable=var)
    f, o = unit_conversion(unit, _QUANTITY[var].format(step=step), file=file, variable=var)
    return values * f + o


def _check_plausible(df, step, file, declared):
    for v in STATION_VARS:
        med = float(np.nanmedian(df[v].values)) if df[v].notna().any() else np.nan
        lo, hi = _PLAUSIBLE_MEDIAN[step][v]
        if np.isfinite(med) and not (lo <= med <= hi):
            raise NepInputError(
                f"median {v} of {med:.4g} {STATION_UNITS[v]} per {step[:-2] if step == 'daily' else 'month'}"
                f" step (declared unit {declared.get(v)!r}) is implausible (expected {lo}..{hi}); "
                "is the declared unit right (e.g. K vs degC, m vs mm)?", file=file, variable=v)
    if (df["prcp"] < 0).any():
        i = int(np.flatnonzero((df["prcp"] < 0).values)[0])
        raise NepInputError(f"negative precipitation in data row {i + 1}", file=file, variable="prcp")


def _station_meta(df, file):
    meta = df.groupby("station", sort=True)[["lon", "lat", "elevation"]]
    spread = meta.max() - meta.min()
    bad = spread[(spread > 1e-6).any(axis=1)]
    if len(bad):
        raise NepInputError(f"duplicate station ids with different coordinates/elevation: "
                            f"{bad.index[:5].tolist()}", file=file, variable="station")
    m = meta.first()
    if m.isna().any().any():
        raise NepInputError("stations without lon/lat/elevation: "
                            f"{m.index[m.isna().any(axis=1)][:5].tolist()}", file=file, variable="station")
    if ((m["lon"] < -180) | (m["lon"] > 360) | (m["lat"] < -90) | (m["lat"] > 90)).any():
        raise NepInputError("lon/lat outside degree ranges", file=file, variable="lon/lat")
    return m


def _to_monthly(df, step, file):
    dups = df.duplicated(["station", "date"])
    if dups.any():
        r = df.loc[dups].iloc[0]
        raise NepInputError(f"{int(dups.sum())} duplicate (station, date) rows, e.g. station "
                            f"{r['station']} on {r['date'].date()}", file=file, variable="date")
    if step == "monthly":
        return df.assign(time=df["date"].values.astype("datetime64[M]").astype("datetime64[ns]"))
    df = df.assign(time=df["date"].values.astype("datetime64[M]").astype("datetime64[ns]"))
    g = df.groupby(["station", "time"], sort=True)
    n = g["date"].count()
    agg = pd.DataFrame({"tmean": g["tmean"].mean(), "prcp": g["prcp"].sum(min_count=1),
                        "rad": g["rad"].sum(min_count=1)})
    full = n.index.get_level_values("time").days_in_month
    for v in STATION_VARS:
        complete = (g[v].count().values == full) & (n.values == full)
        agg.loc[~complete, v] = np.nan  # a month is missing unless every day has a value
    return agg.reset_index()


def _assemble(monthly, meta, grid, file, layout, declared):
    stations = meta.index.astype(str).values
    t0, t1 = monthly["time"].min(), monthly["time"].max()
    times = pd.date_range(t0, t1, freq="MS")
    cube = {}
    idx = pd.MultiIndex.from_product([stations, times], names=["station", "time"])
    m = monthly.assign(station=monthly["station"].astype(str)).set_index(["station", "time"])
    m = m.reindex(idx)
    for v in STATION_VARS:
        cube[v] = m[v].values.reshape(len(stations), len(times)).astype(np.float64)
    x, y = lonlat_to_xy(meta["lon"].values, meta["lat"].values)
    ds = xr.Dataset(
        {
            "tmean": (("station", "time"), cube["tmean"], {
                "units": STATION_UNITS["tmean"], "long_name": "monthly mean air temperature",
                "cell_methods": "time: mean"}),
            "prcp": (("station", "time"), cube["prcp"], {
                "units": STATION_UNITS["prcp"], "long_name": "monthly precipitation total (mm per month)",
                "cell_methods": "time: sum"}),
            "rad": (("station", "time"), cube["rad"], {
                "units": STATION_UNITS["rad"],
                "long_name": "monthly global solar radiation total (MJ m-2 per month)",
                "cell_methods": "time: sum"}),
        },
        coords={
            "station": ("station", stations.astype(object)),
            "time": ("time", times.values),
            "lon": ("station", meta["lon"].values, {"units": "degrees_east"}),
            "lat": ("station", meta["lat"].values, {"units": "degrees_north"}),
            "elevation": ("station", meta["elevation"].values, {"units": "m"}),
            "x": ("station", x, {"units": "m", "crs": CRS_ALBERS}),
            "y": ("station", y, {"units": "m", "crs": CRS_ALBERS}),
        },
        attrs={"source_file": str(file), "layout": layout,
               "declared_units": json.dumps(declared),
               "aggregation": "daily -> monthly: T mean, P and radiation sums; a month is missing "
                              "unless all its days have a value"},
    )
    if grid is not None:
        inv = ~grid_transform(grid)
        col = np.floor(inv.a * x + inv.b * y + inv.c).astype(np.int64)
        row = np.floor(inv.d * x + inv.e * y + inv.f).astype(np.int64)
        ny, nx = grid["region"].shape
        inside = (row >= 0) & (row < ny) & (col >= 0) & (col < nx)
        in_region = np.zeros(len(stations), bool)
        in_region[inside] = grid["region"].values[row[inside], col[inside]]
        ds = ds.assign_coords(
            in_region=("station", in_region, {"long_name": "station lies inside the study region"}),
            station_reason=("station", np.where(in_region, reasons.VALID, reasons.OUTSIDE_REGION)
                            .astype(np.int8), reasons.flag_attrs("station flag")))
        if not in_region.any():
            raise NepInputError("no station lies inside the study region (wrong coordinates?)",
                                file=file, variable="lon/lat")
    return ds


def read_stations(path, layout: str = "csv", grid: xr.Dataset | None = None) -> xr.Dataset:
    """Station climate table -> monthly ``(station, time)`` Dataset.

    Layout ``"csv"`` (the documented layout)
        Comma-separated, ``#`` comment lines allowed, one row per station and date, header::

            station,lon,lat,elevation[m],date,tmean[degC],prcp[mm],rad[MJ m-2]

        ``date`` is ``YYYY-MM`` (monthly rows: tmean monthly mean, prcp and rad monthly totals)
        or ``YYYY-MM-DD`` (daily rows, aggregated here). Units are declared in brackets and
        converted only as declared (``nep_core.vocab.QUANTITIES``: its spellings and conversions):
        tmean ``degC`` or ``K``; prcp ``mm``, ``cm`` or ``m`` (totals per row's time step); rad
        ``MJ m-2``, ``kJ m-2`` or ``J m-2``; elevation ``m`` or ``km``. An undeclared unit, an
        unknown unit, or a column whose median is implausible for the declared unit (e.g.
        temperatures near 280 declared degC) raises. Missing values: empty, ``NA`` or ``NaN``.
    Layout ``"cma"`` (CMA SURF_CLI_CHN_MUL_DAY-style daily text)
        Whitespace-separated, no header, one row per station-day, the integer columns
        ``station lat lon elev year month day tmean prcp rad`` with lat as ddmm, lon as dddmm,
        elevation in 0.1 m (+100000 when estimated, as in the CMA files), tmean in 0.1 degC, 20-20 h
        precipitation in 0.1 mm, global radiation in 0.01 MJ m-2 (as in SURF_CLI_CHN_RADI_DAY).
        32766 = missing; precipitation 32700 = trace (-> 0) and 30000..32699 = value + a
        30000/31000/32000 flag for snow / rain-and-snow / frost (-> the last three digits).

    Parameters
    ----------
    path : str or path
    layout : {"csv", "cma"}
    grid : xarray.Dataset, optional
        If given, stations are flagged (``in_region``, ``station_reason`` = OUTSIDE_REGION),
        never dropped (stations just outside help the interpolation); none inside raises.

    Returns
    -------
    xarray.Dataset
        Dims ``(station, time)`` with ``time`` monthly (month start, a complete range); variables
        ``tmean`` (degC), ``prcp`` (mm per month), ``rad`` (MJ m-2 per month); coords ``lon``,
        ``lat``, ``elevation`` (m), ``x``, ``y`` (China Albers m). Duplicate station ids with
        different coordinates, and duplicate (station, date) rows, raise. Individual outliers are
        passed through for the QC stage (nep_core.climate) to flag.
    """
    path = Path(path)
    if not path.exists():
        raise NepInputError("station file does not exist", file=path)
    if layout == "csv":
        try:
            df = pd.read_csv(path, comment="#", dtype=str, skipinitialspace=True)
        except Exception as exc:
            raise NepInputError(f"cannot parse as CSV: {exc}", file=path) from exc
        names, declared = _parse_header(df.columns, path)
        df.columns = names
        need = {"station", "lon", "lat", "elevation", "date", *STATION_VARS}
        if need - set(names):
            raise NepInputError(f"missing columns {sorted(need - set(names))}; header must be "
                                "station,lon,lat,elevation[m],date,tmean[degC],prcp[mm],rad[MJ m-2]",
                                file=path)
        if df.empty:
            raise NepInputError("no data rows", file=path)
        df["station"] = df["station"].str.strip()
        for c in ("lon", "lat"):
            df[c] = _numeric(df[c], c, path)
        dates = df["date"].str.strip()
        lens = dates.str.len().unique()
        if set(lens) == {7}:
            step, fmt = "monthly", "%Y-%m"
        elif set(lens) == {10}:
            step, fmt = "daily", "%Y-%m-%d"
        else:
            raise NepInputError("dates must all be YYYY-MM (monthly) or all YYYY-MM-DD (daily)",
                                file=path, variable="date")
        parsed = pd.to_datetime(dates, format=fmt, errors="coerce")
        if parsed.isna().any():
            i = int(np.flatnonzero(parsed.isna().values)[0])
            raise NepInputError(f"unparseable date {dates.iloc[i]!r} in data row {i + 1}", file=path,
                                variable="date")
        df["date"] = parsed
        df["elevation"] = _convert(_numeric(df["elevation"], "elevation", path), "elevation",
                                   declared.get("elevation"), step, path)
        for v in STATION_VARS:
            df[v] = _convert(_numeric(df[v], v, path), v, declared.get(v), step, path)
    elif layout == "cma":
        try:
            raw = pd.read_csv(path, sep=r"\s+", header=None, dtype=str, comment="#")
        except Exception as exc:
            raise NepInputError(f"cannot parse as CMA whitespace table: {exc}", file=path) from exc
        if raw.shape[1] != len(CMA_COLUMNS):
            raise NepInputError(f"expected {len(CMA_COLUMNS)} columns {CMA_COLUMNS}, found {raw.shape[1]}",
                                file=path)
        raw.columns = CMA_COLUMNS
        num = {c: _numeric(raw[c], c, path) for c in CMA_COLUMNS[1:]}
        for c in ("lat_ddmm", "lon_dddmm", "elev_01m", "year", "month", "day"):
            if (num[c] == CMA_MISSING).any() or num[c].isna().any():
                raise NepInputError("missing station coordinate or date", file=path, variable=c)
        lat = np.floor(num["lat_ddmm"] / 100) + (num["lat_ddmm"] % 100) / 60.0
        lon = np.floor(num["lon_dddmm"] / 100) + (num["lon_dddmm"] % 100) / 60.0
        e = num["elev_01m"]
        elev = np.where(e >= 100000, e - 100000, e) / 10.0
        t = num["tmean_01C"].where(num["tmean_01C"] != CMA_MISSING) / 10.0
        p = num["prcp_01mm"].where(num["prcp_01mm"] != CMA_MISSING)
        p = p.where(p != 32700, 0.0)
        p = p.where(~((p >= 30000) & (p < 32700)), p % 1000) / 10.0
        r = num["rad_001MJ"].where(num["rad_001MJ"] != CMA_MISSING) / 100.0
        try:
            date = pd.to_datetime(pd.DataFrame({"year": num["year"], "month": num["month"],
                                                "day": num["day"]}))
        except Exception as exc:
            raise NepInputError(f"invalid date: {exc}", file=path, variable="year/month/day") from exc
        df = pd.DataFrame({"station": raw["station"].str.strip(), "lon": lon, "lat": lat,
                           "elevation": elev, "date": date, "tmean": t, "prcp": p, "rad": r})
        step = "daily"
        declared = {"tmean": "0.1 degC", "prcp": "0.1 mm", "rad": "0.01 MJ m-2", "elevation": "0.1 m"}
    else:
        raise NepInputError(f"unknown station layout {layout!r}; use 'csv' or 'cma'",
                            variable="station_layout")
    _check_plausible(df, step, path, declared)
    meta = _station_meta(df, path)
    monthly = _to_monthly(df, step, path)
    return _assemble(monthly, meta, grid, path, layout, declared)


def write_stations_csv(ds: xr.Dataset, path, decimals: int = 2):
    """Write a monthly station Dataset in the documented CSV layout (see :func:`read_stations`)."""
    from ..store import atomic_path

    n_s, n_t = ds.sizes["station"], ds.sizes["time"]
    st = np.repeat(ds["station"].values.astype(str), n_t)
    df = pd.DataFrame({
        "station": st,
        "lon": np.repeat(ds["lon"].values, n_t), "lat": np.repeat(ds["lat"].values, n_t),
        "elevation[m]": np.repeat(ds["elevation"].values, n_t),
        "date": np.tile(pd.DatetimeIndex(ds["time"].values).strftime("%Y-%m"), n_s),
        "tmean[degC]": ds["tmean"].values.ravel(), "prcp[mm]": ds["prcp"].values.ravel(),
        "rad[MJ m-2]": ds["rad"].values.ravel(),
    })
    header = ("# NWC station climate, monthly; documented layout of nep_core.io.read_stations\n"
              f"# {ds.attrs.get('title', '')}\n")
    with atomic_path(path) as tmp:
        with open(tmp, "w") as fh:
            fh.write(header)
            df.to_csv(fh, index=False, float_format=f"%.{decimals}f", na_rep="")
    return Path(path)
