"""Attribution of the NEP trend to climate and to human activity (residual-trend method, RESTREND).

Per pixel, over the years where NEP and every driver D are finite (listwise deletion):

1. OLS NEP_t = b0 + b.D_t + e_t (``"restrend"``: Evans & Geerken 2004, Wessels et al. 2007), or with
   the year as a further regressor, NEP_t = b0 + b.D_t + g t + e_t (``"restrend_time"``: b from the
   year-to-year variation not aligned with the trend).
2. Climate-predicted NEP_CC,t = b0 + b.D_t (without the time term); residual NEP_HA,t = NEP_t - NEP_CC,t.
3. S_CC, S_HA = Theil-Sen slopes (:func:`nep_core.stats.sen_mk`, g C m-2 a-2) of NEP_CC and NEP_HA;
   S = S_CC + S_HA (the Sen slope is not additive: S differs slightly from the Sen slope of NEP).
4. The scenario of Xu et al. (2010) (rules in ``ATTRIBUTION_CLASSES``) and the human contribution
   (%, the ``share_human`` description); the climate contribution is 100 minus it.

"Human" is every trend the drivers do not explain (CO2 fertilisation and N deposition too); with
``"restrend"`` a non-climatic trend collinear with the drivers' own trends partly goes to climate
(the methods chapter, sec-m-attribution, and the book's planted-truth check).

References
----------
Evans, J. & Geerken, R. (2004) Discrimination between climate and human-induced dryland degradation.
J. Arid Environ. 57, 535-554.
Wessels, K. J. et al. (2007) Can human-induced land degradation be distinguished from the effects
of rainfall variability? J. Arid Environ. 68, 271-297.
Xu, D. Y., Kang, X. W., Zhuang, D. F. & Pan, J. J. (2010) Multi-scale quantitative assessment of the
relative roles of climate change and human activities in desertification - a case study of the
Ordos Plateau, China. J. Arid Environ. 74, 498-507.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from . import reasons
from .classify import flag_attrs
from .errors import NepInputError
from .stats import sen_mk
from .vocab import DRIVERS

METHODS = ("restrend", "restrend_time")
DESCRIPTIONS = {
    "restrend": "multiple OLS of NEP on the drivers with an intercept (RESTREND, Evans & Geerken 2004)",
    "restrend_time": "multiple OLS of NEP on the drivers and the year with an intercept; the year term "
                     "is left out of the climate-predicted NEP",
}

ATTRIBUTION_CLASSES = pd.DataFrame([
    (0, "no_data", "no data", "S_CC or S_HA NaN, or S = S_CC + S_HA = 0"),
    (1, "increase_both_promote", "increase: climate and human both promote", "S > 0, S_CC > 0, S_HA > 0"),
    (2, "increase_climate_dominant", "increase: climate dominant", "S > 0, S_CC > 0, S_HA <= 0"),
    (3, "increase_human_dominant", "increase: human dominant", "S > 0, S_CC <= 0, S_HA > 0"),
    (4, "decrease_both_inhibit", "decrease: climate and human both inhibit", "S < 0, S_CC < 0, S_HA < 0"),
    (5, "decrease_climate_dominant", "decrease: climate dominant", "S < 0, S_CC < 0, S_HA >= 0"),
    (6, "decrease_human_dominant", "decrease: human dominant", "S < 0, S_CC >= 0, S_HA < 0"),
], columns=["code", "name", "label", "rule"])
"""The six scenarios of Xu et al. (2010) for the residual-trend split; S = S_CC + S_HA."""


def _fit_block(y, *x, with_time: bool, t: np.ndarray, min_fit: int):
    """Climate-predicted series of each pixel: OLS of ``y`` (..., n) on the ``x`` (+ ``t``).

    Returns the predicted series (float64, NaN outside the listwise-valid years and at failed
    pixels), the number of years used (int16), R^2 of the full fit and a reason code (int8).
    """
    shape = y.shape[:-1]
    y = np.asarray(y, np.float64).reshape(-1, y.shape[-1])
    X = np.stack([np.asarray(v, np.float64).reshape(y.shape) for v in x])      # (k, npix, n)
    npix, n = y.shape
    fin_y, fin_x = np.isfinite(y), np.isfinite(X)
    nonfinite = (np.isinf(y).any(-1) | np.isinf(X).any(-1).any(0))
    ok = fin_y & fin_x.all(0)
    n_ok = ok.sum(-1)
    reason = np.zeros(npix, np.int8)
    reason[n_ok < min_fit] = reasons.TOO_FEW_VALID
    reason[fin_y.any(-1) & (~fin_x.any(-1)).any(0)] = reasons.NO_COVARIATE     # a driver never finite
    reason[~fin_y.any(-1)] = reasons.ALL_NAN
    reason[nonfinite] = reasons.NON_FINITE_INPUT
    w = ok.astype(np.float64)
    cnt = np.maximum(n_ok, 1)[:, None]
    cols = [*X, np.broadcast_to(np.asarray(t, np.float64), (npix, n))] if with_time else list(X)
    Z = np.stack([np.where(ok, c, 0.0) for c in cols], axis=-1)                   # (npix, n, m)
    zbar = (Z * w[..., None]).sum(1) / cnt                                        # (npix, m)
    ybar = np.where(ok, y, 0.0).sum(-1) / cnt[:, 0]
    Zc = (Z - zbar[:, None, :]) * w[..., None]
    yc = (np.where(ok, y, 0.0) - ybar[:, None]) * w
    G = np.einsum("pnm,pnk->pmk", Zc, Zc)
    d = np.sqrt(np.einsum("pmm->pm", G))
    good = (reason == reasons.VALID) & np.all(d > 0, axis=-1)
    R = G[good] / (d[good, :, None] * d[good, None, :])
    det = np.linalg.det(R)
    sing = np.zeros(npix, bool)
    sing[np.flatnonzero(good)[~(det > 1e-10)]] = True
    reason[(reason == reasons.VALID) & (~good | sing)] = reasons.CONSTANT
    fit = reason == reasons.VALID
    beta = np.zeros((npix, len(cols)))
    rhs = np.einsum("pnm,pn->pm", Zc[fit], yc[fit]) / d[fit]
    beta[fit] = np.linalg.solve(R[np.flatnonzero(fit[good])], rhs[..., None])[..., 0] / d[fit]
    k = X.shape[0]
    pred = ybar[:, None] + np.einsum("pnm,pm->pn", Zc[..., :k], beta[:, :k])
    full = np.einsum("pnm,pm->pn", Zc, beta)
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = 1.0 - ((yc - full) ** 2).sum(-1) / (yc ** 2).sum(-1)
    pred = np.where(ok & fit[:, None], pred, np.nan).reshape(shape + (n,))
    r2 = np.where(fit, r2, np.nan)
    return pred, *(a.reshape(shape) for a in (n_ok.astype(np.int16), r2, reason))


def _classes(s_cc, s_ha):
    """Scenario code (``ATTRIBUTION_CLASSES``) and human contribution (%) from the two slopes."""
    s = s_cc + s_ha
    up, down = s > 0, s < 0
    code = np.select([up & (s_cc > 0) & (s_ha > 0), up & (s_ha <= 0), up & (s_cc <= 0),
                      down & (s_cc < 0) & (s_ha < 0), down & (s_ha >= 0), down & (s_cc >= 0)],
                     [1, 2, 3, 4, 5, 6], 0).astype(np.int8)
    with np.errstate(invalid="ignore", divide="ignore"):
        both = 100.0 * s_ha / s
    share = np.select([(code == 1) | (code == 4), (code == 2) | (code == 5), (code == 3) | (code == 6)],
                      [both, 0.0, 100.0], np.nan)
    return code, share


def attribution(nep: xr.DataArray, drivers: dict, dim: str = "year", method: str = "restrend",
                min_valid: int | None = None) -> xr.Dataset:
    """Split the NEP trend of every pixel into a climate part and a human (residual) part.

    Parameters
    ----------
    nep : xarray.DataArray
        Annual NEP (g C m-2 a-1) with dim ``dim``; numpy- or dask-backed (``dim`` one chunk).
    drivers : dict of str -> xarray.DataArray
        The annual drivers (``tmean``, ``prcp``, ``rad``), same dims and coordinates as ``nep``.
    method : {"restrend", "restrend_time"}
    min_valid : int, optional
        Fewest listwise-valid years for the two Sen slopes (the rule of :func:`nep_core.stats.sen_mk`;
        default ceil(0.8 n)); the fit itself needs k + 3 years (k regressors).

    Returns
    -------
    xarray.Dataset over the non-``dim`` dims: ``slope_climate``, ``slope_human``, ``slope_total``
    (g C m-2 a-2), ``share_climate``, ``share_human`` (%), ``class`` (int8, ``ATTRIBUTION_CLASSES``),
    ``r2`` (of the full fit), ``n_valid`` and ``reason`` (int8, :mod:`nep_core.reasons`: the fit's
    reason, else the Sen slope's). Every variable names ``method`` in its attrs.
    """
    if method not in METHODS:
        raise NepInputError(f"method must be one of {', '.join(METHODS)}, got {method!r}", variable="method")
    if not isinstance(nep, xr.DataArray) or dim not in nep.dims:
        raise NepInputError(f"need a DataArray with dim {dim!r}", variable="nep")
    if not drivers:
        raise NepInputError("no drivers given", variable="drivers")
    names = list(drivers)
    for nm, d in drivers.items():
        if not isinstance(d, xr.DataArray) or d.sizes != nep.sizes:
            raise NepInputError(f"driver dims/shape differ from NEP's {dict(nep.sizes)}", variable=nm)
    drv = [drivers[nm].transpose(*nep.dims) for nm in names]
    if nep.chunks is not None or any(d.chunks is not None for d in drv):
        nep = nep.chunk({dim: -1})
        drv = [d.chunk(nep.chunksizes) for d in drv]
    t = np.asarray(nep[dim].values, np.float64)
    t = t - t.mean()
    min_fit = len(names) + (method == "restrend_time") + 3
    pred, n_ok, r2, fit_reason = xr.apply_ufunc(
        _fit_block, nep, *drv, input_core_dims=[[dim]] * (1 + len(drv)),
        output_core_dims=[[dim], [], [], []], dask="parallelized",
        output_dtypes=[np.float64, np.int16, np.float64, np.int8],
        kwargs=dict(with_time=method == "restrend_time", t=t, min_fit=min_fit))
    units = nep.attrs.get("units", "")
    pred = pred.transpose(*nep.dims).assign_attrs(units=units)
    resid = (nep - pred).assign_attrs(units=units)
    sc = sen_mk(pred, dim=dim, min_valid=min_valid)
    sh = sen_mk(resid, dim=dim, min_valid=min_valid)
    code, share = xr.apply_ufunc(_classes, sc["slope"], sh["slope"], output_core_dims=[[], []],
                                 dask="parallelized", output_dtypes=[np.int8, np.float64])
    reason = xr.where(fit_reason != reasons.VALID, fit_reason,
                      xr.where(sc["reason"] != reasons.VALID, sc["reason"], sh["reason"])).astype(np.int8)
    mv = {k: sc["reason"].attrs[k] for k in ("min_valid", "min_valid_rule") if k in sc["reason"].attrs}
    common = {"method": method, "method_description": DESCRIPTIONS[method], "drivers": " ".join(names), **mv}
    slope_u = sc["slope"].attrs.get("units", "")
    sen = "Theil-Sen slope (nep_core.stats.sen_mk)"
    out = {
        "slope_climate": sc["slope"].assign_attrs(
            units=slope_u, long_name="climate part of the NEP trend",
            description=f"{sen} of the climate-predicted NEP b0 + b.D", **common),
        "slope_human": sh["slope"].assign_attrs(
            units=slope_u, long_name="human (residual) part of the NEP trend",
            description=f"{sen} of the residual NEP - (b0 + b.D)", **common),
        "slope_total": (sc["slope"] + sh["slope"]).assign_attrs(
            units=slope_u, long_name="sum of the climate and human parts of the NEP trend", **common),
        "share_human": share.assign_attrs(
            units="%", long_name="human contribution to the NEP trend",
            description="100 S_HA / (S_CC + S_HA) when both parts share the sign of the sum, 100 when only "
                        "S_HA does, 0 when only S_CC does (Xu et al. 2010)", **common),
        "share_climate": (100.0 - share).assign_attrs(
            units="%", long_name="climate contribution to the NEP trend",
            description="100 - share_human", **common),
        "class": code.assign_attrs(flag_attrs(
            ATTRIBUTION_CLASSES, "dominant driver of the NEP trend (Xu et al. 2010 scenarios)",
            description="; ".join(f"{r.code} {r.name}: {r.rule}" for r in ATTRIBUTION_CLASSES.itertuples()
                                  if r.code > 0), **common)),
        "r2": r2.assign_attrs(units="1", long_name="R^2 of the NEP regression", **common),
        "n_valid": n_ok.assign_attrs(units="1", long_name="years used (NEP and every driver finite)"),
        "reason": reason.assign_attrs(reasons.flag_attrs("reason code of the trend attribution"), **mv),
    }
    return xr.Dataset(out, attrs=common)


def attribution_of(annual: xr.Dataset, method: str = "restrend", min_valid: int | None = None,
                   prefix: str = "attr_") -> xr.Dataset:
    """:func:`attribution` of ``annual["nep"]`` on the drivers of ``nep_core.vocab.DRIVERS``, with the
    variables renamed ``<prefix><name>`` (the results-store names)."""
    out = attribution(annual["nep"], {v: annual[v] for v in DRIVERS}, method=method, min_valid=min_valid)
    return out.rename({v: f"{prefix}{v}" for v in out.data_vars})
