"""Gap filling of station data by ordinary kriging of the other stations at the same time step.

Ordinary kriging (``pykrige.ok.OrdinaryKriging``, coordinates in km) per variable and time step, only
for time steps that have something to fill, as *residual kriging*: an OLS line on station
elevation is fitted at each time step, its residuals are kriged and the line is added back. The
variogram (exponential by default) is fitted by pykrige's least squares on ``nlags`` distance bins.
``<var>_krige_var`` is the kriging variance of the residual (units squared; the uncertainty of the
elevation line is not included) where a value was filled and 0 where the observation was kept. A
time step whose residuals are all identical is filled with the line and variance 0. Filled
precipitation is clipped at 0 (count in the ``prcp`` attribute ``n_clipped_to_zero``).
"""
from __future__ import annotations

import numpy as np
import xarray as xr

from ..errors import NepInputError
from ._common import check_station_ds, fmt_time, station_xy, time_dim, variables_of
from .qc import CLIM_OUTLIER, MISSING, OUT_OF_RANGE, SPIKE


def fill_kriging(ds: xr.Dataset, variables=None, *, flags=(MISSING, OUT_OF_RANGE, SPIKE, CLIM_OUTLIER),
                 variogram_model: str = "exponential", nlags: int = 8,
                 min_stations: int = 10, n_closest: int | None = 48) -> xr.Dataset:
    """Replace missing and flagged station values by ordinary kriging of the same time step.

    ``flags``: QC codes replaced (default all non-zero; without ``<var>_flag`` only NaN is filled).
    ``variogram_model``: pykrige model fitted per time step. ``min_stations``: fewest valid stations
    a time step needs. ``n_closest``: moving-window kriging from the nearest valid stations (pykrige
    ``n_closest_points``, ``backend="loop"``; variogram still fitted on all), ``None`` = all stations.
    Returns ``ds`` with ``<var>`` filled (float64, same units), ``<var>_original``, ``<var>_filled``
    (bool) and ``<var>_krige_var``; QC flags unchanged.
    """
    from pykrige.ok import OrdinaryKriging

    variables = variables_of(ds, variables)
    step = check_station_ds(ds, variables)
    x, y, z = station_xy(ds)
    xk, yk = x / 1000.0, y / 1000.0
    times = ds[time_dim(ds)].values
    out = ds.copy()
    for var in variables:
        da = ds[var].transpose("station", ...)
        v = np.asarray(da.values, dtype=float)
        bad = ~np.isfinite(v)
        if f"{var}_flag" in ds:
            bad |= np.isin(ds[f"{var}_flag"].transpose("station", ...).values, list(flags))
        filled = v.copy()
        kvar = np.zeros_like(v)
        for t in np.flatnonzero(bad.any(axis=0)):
            good = ~bad[:, t]
            n_good = int(good.sum())
            if n_good < min_stations:
                raise NepInputError(
                    f"only {n_good} valid stations at {fmt_time(times[t])}; kriging needs at "
                    f"least {min_stations}", variable=var)
            tgt = bad[:, t]
            A = np.column_stack([np.ones(n_good), z[good]])
            coef = np.linalg.lstsq(A, v[good, t], rcond=None)[0]
            resid = v[good, t] - coef[0] - coef[1] * z[good]
            trend_t = coef[0] + coef[1] * z[tgt]
            if np.ptp(resid) <= 1e-9 * max(1.0, np.abs(resid).max()):
                filled[tgt, t] = trend_t + resid.mean()       # kriging variance stays 0
                continue
            ok = OrdinaryKriging(xk[good], yk[good], resid, variogram_model=variogram_model, nlags=nlags)
            window = n_closest is not None and n_good > n_closest
            zhat, ss = ok.execute("points", xk[tgt], yk[tgt],
                                  **(dict(backend="loop", n_closest_points=int(n_closest)) if window else {}))
            filled[tgt, t] = np.asarray(zhat) + trend_t
            kvar[tgt, t] = np.maximum(np.asarray(ss), 0.0)
        clipped = bad & (filled < 0) & (var == "prcp")
        filled[clipped] = 0.0
        dims = da.dims
        units = ds[var].attrs.get("units")
        method = (f"ordinary kriging (pykrige, {variogram_model} variogram fitted per time step, "
                  f"{nlags} lags) of the other valid stations at the same time step"
                  + (f" (moving window: the {n_closest} nearest)" if n_closest else "")
                  + ", residuals of a per-time-step OLS line on elevation (residual kriging)")
        out[f"{var}_original"] = da.copy()
        out[var] = (dims, filled, dict(ds[var].attrs))
        out[var].attrs["description"] = (
            ds[var].attrs.get("description", "") + f"; missing/flagged (codes {list(flags)}) "
            f"values replaced by {method}").lstrip("; ")
        if var == "prcp":
            out[var].attrs["n_clipped_to_zero"] = int(clipped.sum())
        out[f"{var}_filled"] = (dims, bad, {"long_name": f"{var} replaced by kriging", "units": "1"})
        out[f"{var}_krige_var"] = (dims, kvar, {
            "long_name": f"kriging variance of filled {var}",
            "units": f"({units})2" if " " in str(units) else f"{units}2",
            "description": "ordinary-kriging variance of the residual at filled values "
                           "(trend uncertainty not included); 0 where the observation was kept"})
    out.attrs["climate_time_step"] = step
    return out
