"""Carbon balance: soil heterotrophic respiration (Pei et al. 2009) and NEP = NPP - Rh.

Rh is computed MONTHLY from monthly mean air temperature and monthly precipitation and summed over
the 12 months of a year. Feeding the annual mean temperature and annual total precipitation once into
the monthly formula gives about a tenth of the right size; this module never does that.
"""
from __future__ import annotations

import numpy as np
import xarray as xr

from .config import Rh as RhParams
from .errors import NepInputError

RH_UNITS = "g C m-2 month-1"
ANNUAL_UNITS = "g C m-2 a-1"
RH_DESCRIPTION = (
    "Soil heterotrophic respiration after Pei et al. (2009): "
    "Rh = a * (exp(b * T) + ln(c * P + 1)) * days * carbon_fraction, with T monthly mean air "
    "temperature (degC) and P monthly precipitation (mm); the factor days * carbon_fraction "
    "multiplies the whole bracket."
)
_TEMP_UNITS = {"degC", "degree_Celsius", "celsius", "C", "°C"}
_PRCP_UNITS = {"mm", "mm month-1", "mm/month", "mm per month"}


def _check_units(da, accepted, name):
    if isinstance(da, xr.DataArray):
        units = da.attrs.get("units")
        if units is None:
            raise NepInputError(f"no 'units' attribute; expected one of {sorted(accepted)}",
                                variable=da.name or name)
        if units not in accepted:
            raise NepInputError(
                f"units {units!r} not accepted; expected one of {sorted(accepted)} "
                "(convert explicitly, e.g. K - 273.15 or m * 1000)", variable=da.name or name)


def rh_pei(t, p, params: RhParams | None = None):
    """Monthly soil heterotrophic respiration after Pei et al. (2009).

    Parameters
    ----------
    t : float, ndarray or DataArray
        Monthly mean air temperature, degC (a DataArray must carry ``units`` = ``degC``).
    p : float, ndarray or DataArray
        Monthly precipitation total, mm (DataArray ``units`` = ``mm``). Must be >= 0.
    params : nep_core.config.Rh, optional
        The constants ``a=0.22, b=0.0913, c=0.3145, days=30, carbon_fraction=0.465``.

    Returns
    -------
    Same type as the inputs: Rh in g C m-2 month-1,
    ``a * (exp(b*T) + ln(c*P + 1)) * days * carbon_fraction``.

    References
    ----------
    Pei Z., Ouyang H., Zhou C., Xu X. (2009) Carbon balance in an alpine steppe in the Qinghai-Tibet
    Plateau. Journal of Integrative Plant Biology 51, 521-526.

    Examples
    --------
    >>> round(float(rh_pei(10.0, 50.0)), 3)
    16.292
    """
    params = params or RhParams()
    _check_units(t, _TEMP_UNITS, "t")
    _check_units(p, _PRCP_UNITS, "p")
    if isinstance(p, xr.DataArray):
        bad = bool((p < 0).any()) if p.chunks is None else False
    else:
        bad = bool(np.any(np.asarray(p) < 0))
    if bad:
        raise NepInputError("negative precipitation", variable=getattr(p, "name", None) or "p")
    out = params.a * (np.exp(params.b * t) + np.log(params.c * p + 1.0)) * params.days * params.carbon_fraction
    if isinstance(out, xr.DataArray):
        out = out.rename("rh")
        out.attrs = {
            "units": RH_UNITS,
            "long_name": "monthly soil heterotrophic respiration",
            "description": RH_DESCRIPTION,
            "rh_constants": f"a={params.a}, b={params.b}, c={params.c}, days={params.days}, "
                            f"carbon_fraction={params.carbon_fraction}",
            "references": "Pei et al. (2009), J. Integr. Plant Biol. 51: 521-526",
        }
    return out


def annual_rh(rh_monthly: xr.DataArray, time_dim: str = "time") -> xr.DataArray:
    """Sum monthly Rh to annual totals (g C m-2 a-1) on a ``year`` dim.

    Every year must have all 12 months; a year with missing months raises (a partial sum would be a
    silently wrong number).
    """
    if time_dim not in rh_monthly.dims:
        raise NepInputError(f"dimension {time_dim!r} not found (dims: {rh_monthly.dims})",
                            variable=rh_monthly.name)
    if rh_monthly.attrs.get("units") != RH_UNITS:
        raise NepInputError(f"expected units {RH_UNITS!r}, got {rh_monthly.attrs.get('units')!r}",
                            variable=rh_monthly.name)
    years = rh_monthly[time_dim].dt.year
    counts = years.groupby(years).count()
    short = counts.where(counts != 12, drop=True)
    if short.size:
        raise NepInputError(
            f"years without 12 months: {dict(zip(short['year'].values.tolist(), short.values.tolist()))}",
            variable=rh_monthly.name)
    out = rh_monthly.groupby(years.rename("year")).sum(time_dim, skipna=False)
    out.attrs = dict(rh_monthly.attrs, units=ANNUAL_UNITS,
                     long_name="annual soil heterotrophic respiration",
                     cell_methods=f"{time_dim}: sum of 12 monthly values")
    return out.rename("rh")


def nep(npp: xr.DataArray, rh: xr.DataArray) -> xr.DataArray:
    """Net ecosystem productivity NEP = NPP - Rh (g C m-2 a-1); NEP > 0 sink, NEP < 0 source.

    Pixels where NPP is masked (NaN) stay NaN. Both inputs must be in g C m-2 a-1.
    """
    for da, name in ((npp, "npp"), (rh, "rh")):
        if da.attrs.get("units") != ANNUAL_UNITS:
            raise NepInputError(f"expected units {ANNUAL_UNITS!r}, got {da.attrs.get('units')!r}",
                                variable=da.name or name)
    out = (npp - rh).rename("nep")
    out.attrs = {
        "units": ANNUAL_UNITS,
        "long_name": "net ecosystem productivity",
        "description": "NEP = NPP (MOD17A3HGF) - Rh (Pei et al. 2009, monthly, summed); > 0 sink, < 0 source",
    }
    return out
