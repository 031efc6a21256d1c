"""Every per-pixel statistic of NEP in one Dataset: the results schema of the pipeline's stats stage."""
from __future__ import annotations

import pandas as pd
import xarray as xr

from ..vocab import CORRECTIONS, DRIVERS
from .hurst import HURST_METHODS, hurst_null_quantiles, hurst_rs
from .pcorr import partial_corr
from .trend import sen_mk
from .variability import cv

#: quantiles of the Hurst null table (the configured ``hurst_null_q`` is added)
HURST_NULL_Q = (0.05, 0.5, 0.9, 0.95, 0.99)


def per_pixel_statistics(annual: xr.Dataset, st) -> xr.Dataset:
    """Trend (+ every correction's z and p), Cv, multi-year mean, Hurst (every variant), partial r.

    ``annual``: ``nep`` (g C m-2 a-1) and the drivers on ``(year, y, x)``; ``st``: a
    ``nep_core.config.Stats``. Returns the ``(y, x)`` variables of the results schema
    (ARCHITECTURE.md): ``trend_<name>`` of :func:`sen_mk` with ``st.correction``, ``trend_z_<c>`` /
    ``trend_p_<c>`` of every other correction c (``none`` included), ``cv``, ``cv_reason``,
    ``nep_mean``, ``hurst`` (``st.hurst_method``), ``hurst_<m>`` of every variant, ``hurst_reason``,
    ``pcorr_r_<driver>``, ``pcorr_p_<driver>``.
    """
    nep = annual["nep"]
    names = list(CORRECTIONS)
    others = [c for c in (None, *names) if c != st.correction]
    tr = sen_mk(nep, dim="year", alpha=st.alpha, correction=st.correction, min_valid=st.min_valid,
                extra_corrections=others)
    out = {f"trend_{v}": tr[v] for v in ("slope", "slope_low", "slope_high", "intercept", "s", "var_s",
                                          "z", "p", "tau", "n_valid", "reason")}
    for c in names:
        src = "" if c == st.correction else f"_{c}"
        out[f"trend_z_{c}"], out[f"trend_p_{c}"] = tr[f"z{src}"], tr[f"p{src}"]
    if st.correction is not None:
        out["trend_z_none"], out["trend_p_none"] = tr["z_none"], tr["p_none"]
    c = cv(nep, dim="year", ddof=st.cv_ddof, min_mean=st.cv_min_mean, min_valid=st.min_valid)
    out["cv"], out["cv_reason"] = c["cv"], c["reason"]
    out["nep_mean"] = nep.mean("year", skipna=True).assign_attrs(
        units=nep.attrs.get("units", ""), long_name="multi-year mean NEP",
        cell_methods="year: mean (valid years)")
    h = hurst_rs(nep, dim="year", method=st.hurst_method, min_valid=st.min_valid,
                 extra_methods=[m for m in HURST_METHODS if m != st.hurst_method])
    for m in HURST_METHODS:
        out[f"hurst_{m}"] = h["hurst" if m == st.hurst_method else f"hurst_{m}"].rename(f"hurst_{m}")
    out["hurst"], out["hurst_reason"] = h["hurst"], h["reason"]
    pc = partial_corr(nep, {v: annual[v] for v in DRIVERS}, dim="year", min_valid=st.min_valid)
    for v in DRIVERS:
        out[f"pcorr_r_{v}"], out[f"pcorr_p_{v}"] = pc[f"r_{v}"], pc[f"p_{v}"]
    return xr.Dataset(out)


def hurst_null_table(n: int, st, seed: int) -> pd.DataFrame:
    """Seeded iid-noise quantiles of H at length ``n`` for every R/S variant."""
    q = tuple(sorted(set(HURST_NULL_Q) | {st.hurst_null_q}))
    return pd.concat([hurst_null_quantiles(n=n, method=m, q=q, n_sims=st.hurst_null_sims, seed=seed)
                      for m in HURST_METHODS], ignore_index=True)
