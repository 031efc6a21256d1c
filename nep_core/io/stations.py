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
from ..errors import NepInputError, warn_input
from ..vocab import CLIMATE_QUANTITIES, check_plausible, climate_quantity, unit_conversion

STATION_VARS = tuple(CLIMATE_QUANTITIES)
#: Units of the station Dataset (totals per time step: an accepted spelling of each step's unit).
STATION_UNITS = {"tmean": "degC", "prcp": "mm", "rad": "MJ m-2"}
_LONG_NAMES = {"tmean": ("monthly mean air temperature", "mean"),
               "prcp": ("monthly precipitation total (mm per month)", "sum"),
               "rad": ("monthly global solar radiation total (MJ m-2 per month)", "sum")}
#: Default of ``checks.station_max_km``: stations farther from the region are dropped.
STATION_MAX_KM = 200.0
CMA_MISSING = 32766
CMA_COLUMNS = ("station", "lat_ddmm", "lon_dddmm", "elev_01m", "year", "month", "day",
               "tmean_01C", "prcp_01mm", "rad_001MJ")


def _parse_header(columns, file):
    """Column names (lower case) and ``{name: declared unit}`` of a ``name[unit]`` header."""
    names, units = [], {}
    for c in columns:
        m = re.match(r"^\s*([A-Za-z_]\w*)\s*(?:\[\s*([^\]]*?)\s*\])?\s*$", str(c))
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
    """Floats; empty, ``NA`` and ``NaN`` are missing, anything else non-numeric raises."""
    out = pd.to_numeric(s, errors="coerce")
    bad = out.isna() & s.notna() & ~s.astype(str).str.strip().str.upper().isin(["", "NA", "NAN"])
    if bad.any():
        i = int(np.flatnonzero(bad.values)[0])
        raise NepInputError(f"non-numeric value {s.iloc[i]!r} in data row {i + 1}", file=file,
                            variable=name)
    return out.astype(float)


def _station_meta(df, file):
    """lon, lat, elevation per station, which must agree across its rows."""
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
    bad = (m["lon"] < -180) | (m["lon"] > 360) | (m["lat"] < -90) | (m["lat"] > 90)
    if bad.any():
        raise NepInputError(f"{int(bad.sum())} stations have lon/lat outside degree ranges (|lat| > 90: "
                            f"lon and lat swapped?), e.g. {bad.index[bad][:5].tolist()}", file=file,
                            variable="lon/lat")
    return m


def _to_monthly(df, step, file):
    """Monthly rows: daily T averaged, P and radiation summed; a month with a missing day is NaN."""
    dups = df.duplicated(["station", "date"])
    if dups.any():
        r = df.loc[dups].iloc[0]
        raise NepInputError(f"{int(dups.sum())} duplicate (station, date) rows, e.g. station "
                            f"{r['station']} on {r['date'].date()}", file=file, variable="date")
    df = df.assign(time=df["date"].values.astype("datetime64[M]").astype("datetime64[ns]"))
    if step == "monthly":
        return df
    g = df.groupby(["station", "time"], sort=True)
    agg = pd.DataFrame({"tmean": g["tmean"].mean(), "prcp": g["prcp"].sum(min_count=1),
                        "rad": g["rad"].sum(min_count=1)})
    full = agg.index.get_level_values("time").days_in_month     # dates are unique per station
    for v in STATION_VARS:
        agg.loc[g[v].count().values != full, v] = np.nan
    return agg.reset_index()


def _assemble(monthly, meta, grid, file, layout, declared, max_km):
    """The ``(station, time)`` Dataset, stations placed on the ``grid`` if given (:func:`_place`)."""
    stations = meta.index.astype(str).values
    times = pd.date_range(monthly["time"].min(), monthly["time"].max(), freq="MS")
    idx = pd.MultiIndex.from_product([stations, times], names=["station", "time"])
    m = monthly.assign(station=monthly["station"].astype(str)).set_index(["station", "time"]).reindex(idx)
    x, y = lonlat_to_xy(meta["lon"].values, meta["lat"].values)
    ds = xr.Dataset(
        {v: (("station", "time"), m[v].values.reshape(len(stations), len(times)).astype(np.float64),
             {"units": STATION_UNITS[v], "long_name": long_name, "cell_methods": f"time: {method}"})
         for v, (long_name, method) in _LONG_NAMES.items()},
        coords={
            "station": ("station", stations.astype(object)),
            "time": ("time", times.values),
            "lon": ("station", meta["lon"].values, {"units": "degrees_east"}),
            "lat": ("station", meta["lat"].values, {"units": "degrees_north"}),
            "elevation": ("station", meta["elevation"].values, {"units": "m"}),
            "x": ("station", x, {"units": "m", "crs": CRS_ALBERS}),
            "y": ("station", y, {"units": "m", "crs": CRS_ALBERS}),
        },
        attrs={"source_file": str(file), "layout": layout, "declared_units": json.dumps(declared),
               "aggregation": "daily -> monthly: T mean, P and radiation sums; a month is missing "
                              "unless all its days have a value"},
    )
    return ds if grid is None else _place(ds, grid, file, max_km)


def _place(ds, grid, file, max_km):
    """Flag stations outside the region; drop (with a warning naming them) those farther than ``max_km``."""
    from scipy.spatial import cKDTree

    x, y = ds["x"].values, ds["y"].values
    inv = ~grid_transform(grid)
    col = np.floor(inv.a * x + inv.b * y + inv.c).astype(np.int64)
    row = np.floor(inv.d * x + inv.e * y + inv.f).astype(np.int64)
    region = grid["region"].values
    ny, nx = region.shape
    inside = (row >= 0) & (row < ny) & (col >= 0) & (col < nx)
    in_region = np.zeros(x.size, bool)
    in_region[inside] = region[row[inside], col[inside]]
    if not in_region.any():
        raise NepInputError("no station lies inside the study region (wrong coordinates?)",
                            file=file, variable="lon/lat")
    # distance to the nearest region cell centre, on a lattice of cells <= 5 km apart (enough for max_km)
    step = max(1, int(5000.0 // float(grid.attrs.get("resolution_m", 5000.0))))
    ry, rx = np.nonzero(region[::step, ::step])
    tree = cKDTree(np.column_stack([grid["x"].values[::step][rx], grid["y"].values[::step][ry]]))
    km = np.where(in_region, 0.0, tree.query(np.column_stack([x, y]))[0] / 1000.0)
    far = km > max_km
    if far.any():
        ids = ds["station"].values[far].astype(str).tolist()
        warn_input(f"{len(ids)} stations farther than {max_km:g} km from the study region dropped (not "
                   "used for QC or interpolation; wrong lon/lat? raise `[checks] station_max_km` to keep "
                   f"them): {', '.join(ids)}", file=file, variable="lon/lat")
    dropped = [{"station": s, "lon": float(lo), "lat": float(la), "distance_km": round(float(d), 1)}
               for s, lo, la, d in zip(ds["station"].values[far].astype(str), ds["lon"].values[far],
                                       ds["lat"].values[far], km[far])]
    keep = ~far
    ds = ds.isel(station=keep).assign_coords(
        in_region=("station", in_region[keep], {"long_name": "station lies inside the study region"}),
        station_reason=("station", np.where(in_region[keep], reasons.VALID, reasons.OUTSIDE_REGION)
                        .astype(np.int8), reasons.flag_attrs("station flag")))
    ds.attrs.update(stations_dropped=json.dumps(dropped), station_max_km=float(max_km))
    return ds


def read_stations(path, layout: str = "csv", grid: xr.Dataset | None = None, *,
                  max_distance_km: float = STATION_MAX_KM, check_ranges: bool = True) -> xr.Dataset:
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
        temperatures near 280 declared degC; bounds of ``nep_core.vocab.QUANTITIES``) raises.
        Missing values: empty, ``NA`` or ``NaN``.
    Layout ``"cma"`` (CMA SURF_CLI_CHN_MUL_DAY-style daily text)
        Whitespace-separated, no header, one row per station-day, the integer columns
        ``station lat lon elev year month day tmean prcp rad`` with lat as ddmm, lon as dddmm,
        elevation in 0.1 m (+100000 when estimated, as in the CMA files), tmean in 0.1 degC, 20-20 h
        precipitation in 0.1 mm, global radiation in 0.01 MJ m-2 (as in SURF_CLI_CHN_RADI_DAY).
        32766 = missing; precipitation 32700 = trace (-> 0) and 30000..32699 = value + a
        30000/31000/32000 flag for snow / rain-and-snow / frost (-> the last three digits).

    With a ``grid``, stations outside the region are flagged (``in_region``, ``station_reason`` =
    OUTSIDE_REGION) and kept (stations just outside help the interpolation); those farther than
    ``max_distance_km`` (config ``checks.station_max_km``) from it are dropped, named in a
    :class:`~nep_core.errors.NepInputWarning` and listed in the attribute ``stations_dropped``
    (JSON); none inside raises. ``check_ranges=False`` (config ``checks.plausible_ranges``) turns
    the implausible-median errors into warnings.

    Returns
    -------
    xarray.Dataset
        ``tmean`` (degC), ``prcp`` (mm per month), ``rad`` (MJ m-2 per month) over ``(station,
        time)``, ``time`` a complete range of month starts; coords ``lon``, ``lat``, ``elevation``
        (m), ``x``, ``y`` (China Albers m). Duplicate station ids with different coordinates, and
        duplicate (station, date) rows, raise; outliers are left to the QC stage (nep_core.climate).
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
        lens = set(dates.str.len().unique())
        if lens == {7}:
            step, fmt = "monthly", "%Y-%m"
        elif lens == {10}:
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
        for v in ("elevation", *STATION_VARS):
            vals = _numeric(df[v], v, path)
            if v not in declared:
                raise NepInputError(f"no unit declared for {v}; write the header as "
                                    f"'{v}[{STATION_UNITS.get(v, 'm')}]'", file=path, variable=v)
            quantity = "elevation" if v == "elevation" else climate_quantity(v, step)
            f, o = unit_conversion(declared[v], quantity, file=path, variable=v)
            df[v] = vals * f + o
    elif layout == "cma":
        try:
            raw = pd.read_csv(path, sep=r"\s+", header=None, dtype=str, comment="#")
        except Exception as exc:
            raise NepInputError(f"cannot parse as CMA whitespace table: {exc}", file=path) from exc
        if raw.shape[1] != len(CMA_COLUMNS):
            raise NepInputError(f"expected {len(CMA_COLUMNS)} columns {CMA_COLUMNS}, found {raw.shape[1]}",
                                file=path)
        raw.columns = CMA_COLUMNS
        num = {c: _numeric(raw[c], c, path).replace(CMA_MISSING, np.nan) for c in CMA_COLUMNS[1:]}
        for c in ("lat_ddmm", "lon_dddmm", "elev_01m", "year", "month", "day"):
            if num[c].isna().any():
                raise NepInputError("missing station coordinate or date", file=path, variable=c)
        e = num["elev_01m"]
        p = num["prcp_01mm"].where(num["prcp_01mm"] != 32700, 0.0)
        p = p.where(~((p >= 30000) & (p < 32700)), p % 1000) / 10.0
        try:
            date = pd.to_datetime(pd.DataFrame({k: num[k] for k in ("year", "month", "day")}))
        except Exception as exc:
            raise NepInputError(f"invalid date: {exc}", file=path, variable="year/month/day") from exc
        df = pd.DataFrame({
            "station": raw["station"].str.strip(),
            "lon": np.floor(num["lon_dddmm"] / 100) + (num["lon_dddmm"] % 100) / 60.0,
            "lat": np.floor(num["lat_ddmm"] / 100) + (num["lat_ddmm"] % 100) / 60.0,
            "elevation": np.where(e >= 100000, e - 100000, e) / 10.0, "date": date,
            "tmean": num["tmean_01C"] / 10.0, "prcp": p, "rad": num["rad_001MJ"] / 100.0})
        step = "daily"
        declared = {"tmean": "0.1 degC", "prcp": "0.1 mm", "rad": "0.01 MJ m-2", "elevation": "0.1 m"}
    else:
        raise NepInputError(f"unknown station layout {layout!r}; use 'csv' or 'cma'",
                            variable="station_layout")
    for v in STATION_VARS:
        check_plausible(df[v].values, climate_quantity(v, step), file=path, variable=v, strict=check_ranges,
                        what=f"{step} values (declared unit {declared.get(v)!r})",
                        hint="is the declared unit right (e.g. K vs degC, m vs mm)?")
    if (df["prcp"] < 0).any():
        i = int(np.flatnonzero((df["prcp"] < 0).values)[0])
        raise NepInputError(f"negative precipitation in data row {i + 1}", file=path, variable="prcp")
    meta = _station_meta(df, path)
    return _assemble(_to_monthly(df, step, path), meta, grid, path, layout, declared, max_distance_km)


def write_stations_csv(ds: xr.Dataset, path, decimals: int = 2):
    """Write a monthly station Dataset in the documented CSV layout (see :func:`read_stations`)."""
    from ..store import atomic_path

    n_s, n_t = ds.sizes["station"], ds.sizes["time"]
    df = pd.DataFrame({
        "station": np.repeat(ds["station"].values.astype(str), n_t),
        "lon": np.repeat(ds["lon"].values, n_t), "lat": np.repeat(ds["lat"].values, n_t),
        "elevation[m]": np.repeat(ds["elevation"].values, n_t),
        "date": np.tile(pd.DatetimeIndex(ds["time"].values).strftime("%Y-%m"), n_s),
        "tmean[degC]": ds["tmean"].values.ravel(), "prcp[mm]": ds["prcp"].values.ravel(),
        "rad[MJ m-2]": ds["rad"].values.ravel(),
    })
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        fh.write("# NWC station climate, monthly; documented layout of nep_core.io.read_stations\n"
                 f"# {ds.attrs.get('title', '')}\n")
        df.to_csv(fh, index=False, float_format=f"%.{decimals}f", na_rep="")
    return Path(path)
