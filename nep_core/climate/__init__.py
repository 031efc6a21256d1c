"""Climate preprocessing: station QC, kriging gap fill, aggregation, partial thin-plate-spline surfaces.

Data flow (``prepare_climate`` runs all of it)::

    station Dataset (station, time)           tmean degC, prcp mm per step, rad MJ m-2 per step
      -> qc_stations      adds <var>_flag (int8; codes in ``climate.qc``); values are flagged, never dropped
      -> fill_kriging     every missing/flagged value replaced by ordinary kriging (pykrige) of the
                          other stations at the same time step; <var>_original, <var>_filled,
                          <var>_krige_var kept
      -> aggregate        daily -> monthly (T mean, P sum, rad sum; incomplete months flagged missing)
      -> annual           monthly -> annual (T mean, P sum, rad sum), dim ``year``
      -> surfaces         partial thin-plate spline in (x, y) + linear elevation term, smoothing by
                          leave-one-out CV per time step, evaluated lazily (dask) on the analysis grid

Each module's docstring gives the exact method.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import xarray as xr

from ..config import Config
from ..errors import NepInputError
from ._common import VARIABLES, check_station_ds, time_step
from .aggregation import aggregate, annual
from .fill import fill_kriging
from .qc import MISSING, OK, qc_stations, qc_summary
from .spline import SplineFit, cv_scores, fit_surface, surfaces  # noqa: F401


@dataclass
class ClimateResult:
    """Everything the climate stage produces.

    ``stations`` (QC'd, kriging-filled, input time step), the station aggregates ``monthly_stations``
    and ``annual_stations`` the surfaces are fitted to, the lazy surfaces ``monthly`` (``tmean`` degC,
    ``prcp`` mm month-1 on ``(time, y, x)``) and ``annual`` (``(year, y, x)``: mean tmean and summed
    prcp of the monthly surfaces, ``rad`` MJ m-2 a-1 fitted to annual station sums), ``cv``
    (:func:`cv_scores`) and ``qc`` (:func:`qc_summary`).
    """

    stations: xr.Dataset
    monthly_stations: xr.Dataset
    annual_stations: xr.Dataset
    monthly: xr.Dataset
    annual: xr.Dataset
    cv: pd.DataFrame
    qc: pd.DataFrame


def prepare_climate(station_ds: xr.Dataset, grid_x, grid_y, elevation, config=None, *,
                    coarse_factor: int | None = None) -> ClimateResult:
    """Run the climate stage: QC -> kriging fill -> monthly/annual -> spline surfaces.

    ``config`` supplies ``first_year``, ``last_year`` and ``chunk_xy``; the grid arguments and
    ``coarse_factor`` are those of :func:`surfaces`.
    """
    config = config or Config()
    variables = list(VARIABLES)
    check_station_ds(station_ds, variables)
    t = pd.DatetimeIndex(station_ds["time"].values)
    if t.year.min() > config.first_year or t.year.max() < config.last_year:
        raise NepInputError(f"station data cover {t.year.min()}-{t.year.max()}, the run needs "
                            f"{config.first_year}-{config.last_year}", variable="time")
    sel = station_ds.sel(time=(t.year >= config.first_year) & (t.year <= config.last_year))
    qcd = qc_stations(sel, variables)
    filled = fill_kriging(qcd, variables)
    monthly_st = aggregate(filled)
    if time_step(filled) == "daily" and any(bool((monthly_st[f"{v}_flag"] != OK).any()) for v in variables):
        monthly_st = fill_kriging(monthly_st, variables, flags=(MISSING,))   # incomplete months
    annual_st = annual(monthly_st[variables])
    mon = surfaces(monthly_st, grid_x, grid_y, elevation, ["tmean", "prcp"],
                   coarse_factor=coarse_factor, chunks=config.chunk_xy)
    ann_rad = surfaces(annual_st, grid_x, grid_y, elevation, ["rad"],
                       coarse_factor=coarse_factor, chunks=config.chunk_xy)
    ann = annual(mon[["tmean", "prcp"]])
    for v in ("tmean", "prcp"):
        ann[v].attrs["description"] = (f"{'mean' if v == 'tmean' else 'sum'} of the 12 monthly "
                                       f"surfaces; monthly: {mon[v].attrs['description']}")
    for v in ("rad", "rad_smoothing", "rad_elev_coef", "rad_loo_rmse"):
        ann[v] = ann_rad[v]
    cv = pd.concat([cv_scores(monthly_st, ["tmean", "prcp"]), cv_scores(annual_st, ["rad"])])
    return ClimateResult(stations=filled, monthly_stations=monthly_st, annual_stations=annual_st,
                         monthly=mon, annual=ann, cv=cv, qc=qc_summary(filled))

