"""Daily station data to monthly, and monthly (station or gridded) data to annual."""
from __future__ import annotations

import numpy as np
import xarray as xr

from ..errors import NepInputError
from ..vocab import check_units, climate_quantity
from ._common import OUT_UNITS, VARIABLES, check_station_ds, complete_years, variables_of
from .qc import MISSING, OK

_HOW = {"tmean": "mean", "prcp": "sum", "rad": "sum"}


def aggregate(ds: xr.Dataset, *, require_complete: bool = False) -> xr.Dataset:
    """Daily station data to monthly (T mean, P sum, rad sum) at month-start times; monthly data pass.

    A station-month is complete when every calendar day of it is on the time axis and finite.
    Incomplete months are NaN with ``<var>_flag`` = 1 (missing), for :func:`fill_kriging` to
    reconstruct (``require_complete=True``: they raise). ``<var>_n_filled`` counts the days filled
    by kriging when ``<var>_filled`` exists.
    """
    variables = variables_of(ds, None)
    step = check_station_ds(ds, variables)
    if step == "monthly":
        out = ds.copy()
        for v in variables:
            out[v].attrs["units"] = OUT_UNITS["monthly"][v]
        return out
    if step != "daily":
        raise NepInputError(f"aggregate expects daily or monthly data, got {step}", variable="time")
    out = xr.Dataset(coords={c: ds[c] for c in ds.coords if ds[c].dims == ("station",)})
    for v in variables:
        da = ds[v]
        r = da.resample(time="MS")
        agg = r.mean() if _HOW[v] == "mean" else r.sum(min_count=1)
        count = da.notnull().resample(time="MS").sum()
        complete = (count == count["time"].dt.days_in_month).transpose(*agg.dims)
        if require_complete and not bool(complete.all()):
            bad = (~complete).sum().item()
            raise NepInputError(f"{bad} station-months without complete daily data", variable=v)
        out[v] = agg.where(complete)
        out[v].attrs = dict(da.attrs, units=OUT_UNITS["monthly"][v],
                            cell_methods=f"time: {_HOW[v]} over complete calendar months")
        out[f"{v}_flag"] = xr.where(complete, OK, MISSING).astype(np.int8)
        out[f"{v}_flag"].attrs = {"long_name": f"monthly completeness flag of {v}", "units": "1",
                                  "flag_values": np.array([0, 1], np.int8),
                                  "flag_meanings": "ok missing_days"}
        if f"{v}_filled" in ds:
            out[f"{v}_n_filled"] = ds[f"{v}_filled"].resample(time="MS").sum().astype(np.int16)
            out[f"{v}_n_filled"].attrs = {"long_name": f"days of {v} filled by kriging", "units": "d"}
    return out


def annual(ds: xr.Dataset) -> xr.Dataset:
    """Monthly to annual (station or gridded): T mean of 12 months, P and rad sums on dim ``year``;
    every year needs 12 months, and a NaN month gives a NaN year (no partial sums)."""
    year = complete_years(ds).rename("year")
    out = xr.Dataset(coords={c: ds[c] for c in ds.coords if "time" not in ds[c].dims})
    for v in [v for v in VARIABLES if v in ds]:
        check_units(ds[v], climate_quantity(v, "monthly"), variable=v)
        g = ds[v].groupby(year)
        agg = g.mean("time", skipna=False) if _HOW[v] == "mean" else g.sum("time", skipna=False)
        out[v] = agg.assign_attrs(dict(ds[v].attrs, units=OUT_UNITS["annual"][v],
                                       cell_methods=f"time: {_HOW[v]} of 12 monthly values"))
    return out
