"""Coefficient of variation per pixel and map-level false-discovery-rate control."""
from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.stats import false_discovery_control

from .. import reasons
from ..errors import NepInputError
from . import _kernels as K
from ._common import DEFAULTS, apply_rows, check_input, name_of, resolve_min_valid


def cv(da: xr.DataArray, dim: str = "year", ddof: int = DEFAULTS.cv_ddof,
       min_mean: float = DEFAULTS.cv_min_mean, min_valid: int | None = DEFAULTS.min_valid) -> xr.Dataset:
    """Coefficient of variation Cv = SD(ddof) / mean along ``dim`` over the finite years.

    Parameters
    ----------
    ddof : int
        Delta degrees of freedom of the SD (0 = population SD, the default of the study's tools).
    min_mean : float
        Where the mean is <= max(min_mean, 0) (units of ``da``) Cv is NaN with reason
        NONPOSITIVE_MEAN, never a huge or negative number.
    min_valid : int, optional
        Fewest finite years (>= 2, >= ddof + 1); None: ceil(0.8 n) (``resolve_min_valid``).

    Returns
    -------
    xarray.Dataset over the dims of ``da`` without ``dim``: ``cv`` (float64, units "1") and
    ``reason`` (int8, nep_core.reasons).
    """
    if not isinstance(ddof, (int, np.integer)) or ddof < 0:
        raise NepInputError(f"ddof must be a non-negative integer, got {ddof!r}", variable="ddof")
    if not np.isfinite(min_mean):
        raise NepInputError(f"min_mean must be finite, got {min_mean!r}", variable="min_mean")
    da = check_input(da, dim, "input")
    min_valid, mv = resolve_min_valid(min_valid, da.sizes[dim], max(2, int(ddof) + 1), "Cv")
    c, reason = apply_rows(K.cv_kernel, da, dim, [np.float64, np.int8],
                           dict(ddof=int(ddof), min_mean=float(min_mean), min_valid=min_valid))
    desc = (f"coefficient of variation SD(ddof={int(ddof)}) / mean over the finite values along "
            f"{dim!r}; NaN with reason NONPOSITIVE_MEAN where mean <= {max(float(min_mean), 0.0):g} "
            f"{da.attrs.get('units', '')}")
    return xr.Dataset({
        "cv": c.rename("cv").assign_attrs(units="1", long_name=f"coefficient of variation of "
                                          f"{name_of(da, 'input')}", description=desc, ddof=int(ddof),
                                          min_mean=float(min_mean)),
        "reason": reason.rename("reason").assign_attrs(reasons.flag_attrs("reason code of Cv"), **mv),
    }, attrs={"description": desc, **mv})


def fdr(p: xr.DataArray, alpha: float = 0.05, method: str = "bh") -> xr.DataArray:
    """Map-level significance under false-discovery-rate control.

    Parameters
    ----------
    p : xarray.DataArray
        p-values of all pixels of one map (dask is computed: FDR is a global operation).
    alpha : float
        FDR level q (Wilks 2016: q = 2 alpha_global; the pipeline passes ``Config.stats.fdr_alpha``).
    method : {"bh", "by"}
        Benjamini-Hochberg (independent or positively dependent tests) or Benjamini-Yekutieli.

    Returns
    -------
    bool DataArray, True where the adjusted p (scipy.stats.false_discovery_control over the m
    finite p) is <= alpha; NaN p are False and not counted. attrs: method, alpha, m, n_significant,
    p_threshold (largest raw p declared significant, NaN if none).

    References
    ----------
    Benjamini & Hochberg (1995) J. R. Stat. Soc. B 57: 289-300. Benjamini & Yekutieli (2001) Ann.
    Stat. 29: 1165-1188. Wilks (2016) Bull. Am. Meteorol. Soc. 97: 2263-2273.
    """
    if not isinstance(p, xr.DataArray):
        raise NepInputError(f"expected an xarray.DataArray of p-values, got {type(p).__name__}", variable="p")
    if method not in ("bh", "by"):
        raise NepInputError(f"method must be 'bh' or 'by', got {method!r}", variable="method")
    if not (0.0 < float(alpha) < 1.0):
        raise NepInputError(f"alpha must be in (0, 1), got {alpha!r}", variable="alpha")
    if p.dtype.kind not in "f":
        raise NepInputError(f"p-values must be floating point, got {p.dtype}", variable=name_of(p, "p"))
    vals = np.asarray(p.values, dtype=np.float64)
    finite = np.isfinite(vals)
    if np.any(np.isinf(vals)) or np.any((vals[finite] < 0) | (vals[finite] > 1)):
        raise NepInputError("p-values must lie in [0, 1] (NaN allowed)", variable=name_of(p, "p"))
    sig = np.zeros(vals.shape, dtype=bool)
    m = int(finite.sum())
    thr = np.nan
    if m:
        sig[finite] = false_discovery_control(vals[finite], method=method) <= alpha
        if sig.any():
            thr = float(vals[sig].max())
    out = xr.DataArray(sig, dims=p.dims, coords=p.coords, name="sig_fdr")
    out.attrs = {"units": "1", "long_name": "significant after map-level FDR control",
                 "description": f"{'Benjamini-Hochberg' if method == 'bh' else 'Benjamini-Yekutieli'} "
                                f"adjusted p <= {alpha} over the m = {m} finite p-values of the map "
                                "(scipy.stats.false_discovery_control); NaN p are False and not counted",
                 "method": method, "alpha": float(alpha), "m": m, "n_significant": int(sig.sum()),
                 "p_threshold": thr}
    return out
