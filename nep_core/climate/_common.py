"""Shared checks and constants of the climate stage (station Datasets, time steps, units)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import NepInputError
from ..vocab import CLIMATE_QUANTITIES, UNITS, check_units, climate_quantity

VARIABLES = tuple(CLIMATE_QUANTITIES)
#: units written for the monthly and annual aggregates and surfaces
OUT_UNITS = {step: {v: UNITS[climate_quantity(v, step)] for v in VARIABLES} for step in ("monthly", "annual")}


def time_dim(ds) -> str:
    """``"time"`` or ``"year"``: the time dimension of a station or gridded Dataset."""
    for d in ("time", "year"):
        if d in ds.dims:
            return d
    raise NepInputError(f"no 'time' or 'year' dimension (dims: {tuple(ds.dims)})")


def time_step(ds) -> str:
    """'daily', 'monthly' or 'annual' from the time coordinate."""
    if "year" in ds.dims and "time" not in ds.dims:
        return "annual"
    t = pd.DatetimeIndex(ds["time"].values)
    if len(t) == 0:
        raise NepInputError("empty time axis", variable="time")
    d = np.diff(t.values).astype("timedelta64[h]").astype(int) / 24.0
    if np.any(d <= 0):
        raise NepInputError("time axis not strictly increasing", variable="time")
    if np.all(t.day == 1) and np.all(t.normalize() == t) and (len(t) == 1 or d.min() >= 28):
        return "monthly"
    if len(t) > 1 and np.all(t.normalize() == t) and d.min() == 1:
        return "daily"
    raise NepInputError("time axis is neither daily (midnight, 1-day steps, gaps allowed) nor "
                        "monthly (month starts)", variable="time")


def complete_years(obj, time_dim: str = "time"):
    """The year of each step of ``time_dim``; raises if the dim is missing or a year lacks a month."""
    name = getattr(obj, "name", None) or time_dim
    if time_dim not in obj.dims:
        raise NepInputError(f"dimension {time_dim!r} not found (dims: {tuple(obj.dims)})", variable=name)
    years = obj[time_dim].dt.year
    counts = pd.Series(1, index=years.values).groupby(level=0).sum()
    if (counts != 12).any():
        raise NepInputError(f"years without 12 months: {counts[counts != 12].to_dict()}", variable=name)
    return years


def check_station_ds(ds, variables) -> str:
    """Check a station Dataset (``station`` dim, finite ``x``, ``y``, ``elevation``, units of
    ``variables``); returns the time step."""
    if "station" not in ds.dims:
        raise NepInputError(f"no 'station' dimension (dims: {tuple(ds.dims)})")
    for c in ("x", "y", "elevation"):
        if c not in ds.coords and c not in ds:
            raise NepInputError("station coordinate missing", variable=c)
        if not np.all(np.isfinite(ds[c].values)):
            raise NepInputError("non-finite station coordinate", variable=c)
    step = time_step(ds)
    for v in variables:
        if v not in ds:
            raise NepInputError("variable not in the station Dataset", variable=v)
        if v in CLIMATE_QUANTITIES:
            check_units(ds[v], climate_quantity(v, step), variable=v)
    return step


def variables_of(ds, variables) -> list:
    """The variables to process: ``variables`` (a name or a list), default every one present."""
    if variables is None:
        variables = [v for v in VARIABLES if v in ds]
        if not variables:
            raise NepInputError(f"none of {VARIABLES} in the station Dataset")
    elif isinstance(variables, str):
        variables = [variables]
    return list(variables)


def station_xy(ds):
    """Station x, y (Albers m) and elevation (m) as float64 arrays."""
    return tuple(np.asarray(ds[c].values, float) for c in ("x", "y", "elevation"))


def fmt_time(t) -> str:
    """A time step for messages (the date of a datetime64, else as given, e.g. a year)."""
    return str(pd.Timestamp(t).date()) if isinstance(t, np.datetime64) else str(t)
