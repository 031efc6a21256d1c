"""Carbon balance: soil heterotrophic respiration (Pei et al. 2009) and NEP = NPP - Rh.

Rh is computed MONTHLY from monthly mean air temperature and monthly precipitation and summed over
the 12 months of a year. Feeding the annual mean temperature and annual total precipitation once into
the monthly formula gives about a tenth of the right size; this module never does that.
"""
from __future__ import annotations

import dataclasses

import dask
import numpy as np
import pandas as pd
import xarray as xr

from .classify import trend_class
from .climate._common import complete_years
from .config import Rh as RhParams
from .errors import NepInputError
from .stats import sen_mk
from .vocab import NEP_UNITS, RH_MONTHLY_UNITS, UNITS, check_units

RH_DESCRIPTION = ("Soil heterotrophic respiration after Pei et al. (2009): "
                  "Rh = a * (exp(b * T) + ln(c * P + 1)) * days * carbon_fraction, with T monthly mean air "
                  "temperature (degC) and P monthly precipitation (mm); the factor days * carbon_fraction "
                  "multiplies the whole bracket.")


def _check_climate(t, p):
    """Units of monthly T (degC) and P (mm) DataArrays; P >= 0 (unless dask-backed)."""
    for da, quantity, name in ((t, "temperature", "t"), (p, "precipitation_monthly", "p")):
        if isinstance(da, xr.DataArray):
            check_units(da, quantity, variable=da.name or name)
    lazy = isinstance(p, xr.DataArray) and p.chunks is not None
    if not lazy and np.any(np.asarray(p) < 0):
        raise NepInputError("negative precipitation", variable=getattr(p, "name", None) or "p")


def rh_pei(t, p, params: RhParams | None = None):
    """Monthly soil heterotrophic respiration (g C m-2 month-1) after Pei Z., Ouyang H., Zhou C., Xu X.
    (2009) J. Integr. Plant Biol. 51, 521-526: ``a * (exp(b*T) + ln(c*P + 1)) * days * carbon_fraction``.

    ``t``: monthly mean air temperature (degC), ``p``: monthly precipitation (mm, >= 0); floats, arrays
    or DataArrays carrying these units. ``params`` default: ``nep_core.config.Rh()``.
    """
    params = params or RhParams()
    _check_climate(t, p)
    out = (params.a * (np.exp(params.b * t) + np.log(params.c * p + 1.0)) * params.days
           * params.carbon_fraction)
    if isinstance(out, xr.DataArray):
        out = out.rename("rh")
        out.attrs = _rh_attrs(params, RH_MONTHLY_UNITS, "monthly soil heterotrophic respiration")
    return out


def _rh_attrs(params: RhParams, units: str, long_name: str) -> dict:
    """The attributes of an Rh field: units, formula, the constants used, the reference."""
    return {"units": units, "long_name": long_name, "description": RH_DESCRIPTION,
            "rh_constants": f"a={params.a}, b={params.b}, c={params.c}, days={params.days}, "
                            f"carbon_fraction={params.carbon_fraction}",
            "references": "Pei et al. (2009), J. Integr. Plant Biol. 51: 521-526"}


def annual_rh(rh_monthly: xr.DataArray, time_dim: str = "time") -> xr.DataArray:
    """Sum monthly Rh to annual totals (g C m-2 a-1) on a ``year`` dim; every year needs 12 months."""
    years = complete_years(rh_monthly, time_dim)
    check_units(rh_monthly, "carbon_flux_monthly", variable=rh_monthly.name or "rh_monthly")
    out = rh_monthly.groupby(years.rename("year")).sum(time_dim, skipna=False)
    out.attrs = dict(rh_monthly.attrs, units=NEP_UNITS,
                     long_name="annual soil heterotrophic respiration",
                     cell_methods=f"{time_dim}: sum of 12 monthly values")
    return out.rename("rh")


def annual_rh_sets(t: xr.DataArray, p: xr.DataArray, params_list, time_dim: str = "time",
                   with_climate: bool = False):
    """Annual Rh (g C m-2 a-1) for several sets of Pei constants from one pass over monthly T and P.

    Equal to ``annual_rh(rh_pei(t, p, params))`` per set (up to float32 summation order), via
    ``Rh_year = a * days * carbon_fraction * (sum_m exp(b T_m) + sum_m ln(c P_m + 1))``: one exp pass
    per distinct ``b``, one log pass per distinct ``c``. ``t`` (degC), ``p`` (mm, >= 0): numpy or dask,
    12 calendar months per year in ``time_dim``; float32 out. Returns one DataArray per set on
    ``year``; with ``with_climate`` ``(rh_list, tmean_annual, prcp_annual)`` from the same pass.
    """
    params_list = list(params_list)
    if not params_list:
        raise NepInputError("no Rh parameter sets given", variable="params_list")
    _check_climate(t, p)
    complete_years(p, time_dim)
    years = complete_years(t, time_dim)
    if not np.array_equal(np.asarray(p[time_dim]), np.asarray(t[time_dim])):
        raise NepInputError(f"t and p have different {time_dim!r} coordinates", variable=p.name or "p")
    year_vals = np.unique(years.values)
    if not (np.diff(years.values) >= 0).all():
        raise NepInputError(f"{time_dim!r} is not sorted", variable=t.name or "t")
    bs = sorted({float(q.b) for q in params_list})
    cs = sorted({float(q.c) for q in params_list})
    sets = np.array([[bs.index(float(q.b)), cs.index(float(q.c)),
                      q.a * q.days * q.carbon_fraction] for q in params_list])
    # time first and one chunk: each block is reshaped (year, 12, ...) in place, no transposed copy
    others = [d for d in t.dims if d != time_dim]
    tt = t.transpose(time_dim, *others).astype(np.float32)
    pt = p.transpose(time_dim, *others).astype(np.float32)
    kw = dict(bs=tuple(bs), cs=tuple(cs), sets=sets, nyear=year_vals.size)
    nout = len(params_list) + 2
    if tt.chunks is not None or pt.chunks is not None:
        import dask.array as da

        tt, pt = tt.chunk({time_dim: -1}), pt.chunk({time_dim: -1})
        tt, pt = xr.unify_chunks(tt, pt)
        data = da.map_blocks(_rh_sets_kernel, tt.data, pt.data, dtype=np.float32, new_axis=[0],
                             chunks=((nout,), (year_vals.size,), *tt.data.chunks[1:]),
                             meta=np.empty((0,) * (tt.ndim + 1), np.float32), **kw)
    else:
        data = _rh_sets_kernel(tt.values, pt.values, **kw)
    coords = {d: tt[d] for d in others if d in tt.coords}
    coords["year"] = year_vals
    stacked = xr.DataArray(data, dims=("rh_set", "year", *others), coords=coords)
    out = [stacked.isel(rh_set=k, drop=True).rename("rh").assign_attrs(
        _rh_attrs(q, NEP_UNITS, "annual soil heterotrophic respiration"),
        cell_methods=f"{time_dim}: sum of 12 monthly values") for k, q in enumerate(params_list, start=2)]
    if not with_climate:
        return out
    tm = stacked.isel(rh_set=0, drop=True).rename(t.name or "tmean").assign_attrs(
        t.attrs, units=UNITS["temperature"], cell_methods=f"{time_dim}: mean of 12 monthly values")
    pa = stacked.isel(rh_set=1, drop=True).rename(p.name or "prcp").assign_attrs(
        p.attrs, units=UNITS["precipitation_annual"], cell_methods=f"{time_dim}: sum of 12 monthly values")
    return out, tm, pa


def _rh_sets_kernel(t, p, bs, cs, sets, nyear):
    """(12 * nyear, ...) T and P -> (2 + nsets, nyear, ...): annual mean T, P sum, Rh of each set."""
    lead = t.shape[1:]
    out = np.empty((2 + len(sets), nyear) + lead, np.float32)
    if not (np.isfinite(t).any() or np.isfinite(p).any()):      # a block wholly outside the region
        out.fill(np.nan)
        return out
    t = np.ascontiguousarray(t).reshape((nyear, 12) + lead)
    p = np.ascontiguousarray(p).reshape((nyear, 12) + lead)
    t.mean(axis=1, out=out[0])
    p.sum(axis=1, out=out[1])
    e = [np.exp(t * np.float32(b)).sum(axis=1) for b in bs]
    el = [np.log(p * np.float32(c) + np.float32(1.0)).sum(axis=1) for c in cs]
    for k, (ib, ic, f) in enumerate(sets, start=2):
        np.multiply(e[int(ib)] + el[int(ic)], np.float32(f), out=out[k])
    return out


def nep(npp: xr.DataArray, rh: xr.DataArray) -> xr.DataArray:
    """Net ecosystem productivity NEP = NPP - Rh (g C m-2 a-1); NEP > 0 sink, NEP < 0 source."""
    for da, name in ((npp, "npp"), (rh, "rh")):
        check_units(da, "carbon_flux", variable=da.name or name)
    out = (npp - rh).rename("nep")
    out.attrs = {"units": NEP_UNITS, "long_name": "net ecosystem productivity",
                 "description": "NEP = NPP (MOD17A3HGF) - Rh (Pei et al. 2009, monthly, summed); "
                                "> 0 sink, < 0 source"}
    return out


#: the Rh sensitivity analysis moves each Pei et al. constant by these percentages
RH_SENSITIVITY_PCT = (-10.0, 10.0)


def _variant_name(k: str, p: float) -> str:
    return f"rh_{k}_{'m' if p < 0 else 'p'}{abs(p):g}"


def rh_variant_sets(params: RhParams, pct=RH_SENSITIVITY_PCT) -> dict:
    """Rh constants with ``b`` or ``c`` moved by each of ``pct`` percent, by name (``rh_b_m10``, ...)."""
    return {_variant_name(k, p): dataclasses.replace(params, **{k: getattr(params, k) * (1 + p / 100)})
            for k in ("b", "c") for p in pct}


def per_pixel_maps(nep: xr.DataArray, st) -> xr.Dataset:
    """``nep_mean`` (mean of the finite years), ``trend_slope`` and ``trend_class`` (``sen_mk`` + Table 1
    classes with the settings ``st``, a ``nep_core.config.Stats``) of an annual NEP cube."""
    count = np.isfinite(nep).sum("year")
    mean = nep.astype(np.float64).sum("year") / count.where(count > 0)
    tr = sen_mk(nep.assign_attrs(units=NEP_UNITS), dim="year", alpha=st.alpha, correction=st.correction,
                min_valid=st.min_valid)
    return xr.Dataset({"nep_mean": mean, "trend_slope": tr["slope"],
                       "trend_class": trend_class(tr, eps=st.stable_eps)})


def rh_sensitivity(nep: xr.DataArray, rh: xr.DataArray, rh_variants: dict, base: xr.Dataset,
                   cell_area: xr.DataArray, params: RhParams, st, pct=RH_SENSITIVITY_PCT) -> pd.DataFrame:
    """Area-weighted mean NEP, sink share, mean Sen slope and trend-class shares when one Rh constant
    of Pei et al. (2009) moves by each of ``pct`` percent; one row per (parameter, change_pct).

    ``nep``, ``rh``: ``(year, y, x)``, g C m-2 a-1; ``rh_variants`` from :func:`rh_variant_sets`;
    ``base``: the baseline ``nep_mean``, ``trend_slope``, ``trend_class`` (change 0); ``cell_area``
    (km2) weights; ``st``: ``nep_core.config.Stats``. A perturbed NEP is NEP - (Rh' - Rh) in float32
    (Rh' = (1 + f) Rh for ``a``). Shares are of the area with a valid mean NEP; "increasing" is
    Table 1 classes 6-9, "significant increase" 8-9.
    """
    lo, hi = pct
    cases = [(k, p) for k in ("a", "b", "c") for p in (lo, 0.0, hi)]
    sums = []
    for k, p in cases:
        if p == 0:
            maps = base
        elif k == "a":
            maps = per_pixel_maps(nep - rh * np.float32(p / 100), st)
        else:
            maps = per_pixel_maps(nep - (rh_variants[_variant_name(k, p)] - rh), st)
        mean, slope, cls = maps["nep_mean"], maps["trend_slope"], maps["trend_class"]
        w = cell_area.astype(np.float64).where(np.isfinite(mean), 0.0)
        ws = cell_area.astype(np.float64).where(np.isfinite(slope), 0.0)
        sums.append([w.sum(), (w * mean.fillna(0)).sum(), w.where(mean > 0, 0).sum(),
                     w.where(cls >= 6, 0).sum(), w.where(cls >= 8, 0).sum(), ws.sum(),
                     (ws * slope.fillna(0)).sum()])
    (sums,) = dask.compute(sums)
    rows = []
    for (k, p), s in zip(cases, sums):
        s = [float(v) for v in s]
        rows.append({"parameter": k, "change_pct": p, "parameter value": getattr(params, k) * (1 + p / 100),
                     "nep_mean_g C m-2 a-1": s[1] / s[0], "sink_share_pct": s[2] / s[0] * 100,
                     "mean_slope_g C m-2 a-2": s[6] / s[5], "increasing_share_pct": s[3] / s[0] * 100,
                     "significant_increase_share_pct": s[4] / s[0] * 100})
    out = pd.DataFrame(rows)
    base_mean = float(out.loc[out["change_pct"] == 0, "nep_mean_g C m-2 a-1"].iloc[0])
    out["nep_mean_change_pct"] = (out["nep_mean_g C m-2 a-1"] / base_mean - 1) * 100
    return out
