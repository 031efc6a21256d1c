"""Hurst exponent by rescaled-range (R/S) analysis per pixel, and its Monte Carlo null."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import xarray as xr

from .. import reasons, vocab
from ..errors import NepInputError
from . import _kernels as K
from ._common import DEFAULTS, apply_rows, check_choices, check_input, resolve_min_valid

#: public name (``nep_core.vocab.HURST_METHODS``) -> kernel code ``K.HURST_<NAME>``
HURST_METHODS = {m: getattr(K, f"HURST_{m.upper()}") for m in vocab.HURST_METHODS}

HURST_DESCRIPTIONS = {
    "prefix": ("R/S 'prefix' variant (e.g. Tong et al. 2018): for tau = 2..n the first tau values, "
               "mean-adjusted cumulative deviations X, R = max X - min X, S = population SD of those "
               "tau values; H = OLS slope of log(R/S) on log(tau) (taus with R, S > 0)"),
    "diff": ("R/S 'diff' variant: the 'prefix' estimator applied to the n-1 first differences of "
             "the series"),
    "alp": ("classic block-averaged R/S as nolds.hurst_rs(corrected=True, fit='poly', unbiased=True): "
            "for block sizes n in nolds.logmid_n(N, 1/4, 15) (N = valid length), (R/S)_n = mean over "
            "the floor(N/n) leading non-overlapping blocks (SD ddof=1, zero-range blocks skipped); "
            "H = OLS slope of log(R/S)_n - log E[R/S]_n (Anis-Lloyd-Peters) on log n, + 0.5"),
}


def _log_expected_rs(nmax: int) -> np.ndarray:
    """log of the Anis-Lloyd-Peters expected (R/S)_n for white noise, n = 0..nmax (as nolds)."""
    out = np.full(nmax + 1, np.nan)
    for n in range(2, nmax + 1):
        front = (n - 0.5) / n
        i = np.arange(1, n)
        back = np.sum(np.sqrt((n - i) / i))
        if n <= 340:
            middle = math.gamma((n - 1) * 0.5) / math.sqrt(math.pi) / math.gamma(n * 0.5)
        else:
            middle = 1.0 / math.sqrt(n * math.pi * 0.5)
        out[n] = math.log(front * middle * back)
    return out


def _nvals_array(nvals, n):
    if nvals is None:
        return np.zeros(0, np.int64)
    arr = np.asarray(nvals, dtype=np.int64).ravel()
    if arr.size > 16 or np.any(arr < 2) or np.any(arr > n):
        raise NepInputError(f"nvals must be at most 16 block sizes in 2..{n}, got {list(arr)}",
                            variable="nvals")
    return arr


def hurst_rs(da: xr.DataArray, dim: str = "year", method: str = DEFAULTS.hurst_method,
             min_valid: int | None = DEFAULTS.min_valid, nvals=None, extra_methods=()) -> xr.Dataset:
    """Hurst exponent by R/S analysis along ``dim``, in one of three variants (``HURST_DESCRIPTIONS``).

    Parameters
    ----------
    da : xarray.DataArray
        Any dims including ``dim``. Missing years are dropped and the remaining values treated as
        consecutive (R/S needs an evenly spaced series).
    method : {"prefix", "diff", "alp"}
        METHODS section 4. Under iid noise at n = 24 the means are about 0.64 (prefix), 0.39 (diff)
        and 0.5 (alp): compare with ``hurst_null_quantiles``.
    min_valid : int, optional
        Fewest finite years (>= 4); None: ceil(0.8 n) (``resolve_min_valid``).
    nvals : sequence of int, optional
        Block sizes for ``alp`` (default: nolds' ``logmid_n`` of each pixel's valid length; 3..7
        for n = 24).
    extra_methods : sequence of {"prefix", "diff", "alp"}
        Further variants from the same pass: adds ``hurst_<name>``, equal to ``hurst`` of
        ``hurst_rs(da, method=name)``.

    Returns
    -------
    xarray.Dataset with ``hurst`` (units "1", float64), ``reason`` (int8; CONSTANT where the series
    is constant or fewer than two R/S points exist) and ``hurst_<name>`` per extra method.

    References
    ----------
    Hurst (1951); Anis & Lloyd (1976); Peters (1994); Schoelzel, nolds 0.6.2.
    """
    extra = list(extra_methods)
    check_choices(method, extra, HURST_METHODS, "method", "extra_methods")
    da = check_input(da, dim, "input")
    n = da.sizes[dim]
    min_valid, mv = resolve_min_valid(min_valid, n, 4, "R/S analysis")
    k = 1 + len(extra)
    outs = apply_rows(
        K.hurst_kernel, da, dim, [np.float64] * k + [np.int8] * k,
        dict(methods=np.array([HURST_METHODS[m] for m in (method, *extra)], np.int64), min_valid=min_valid,
             nvals=_nvals_array(nvals, n), log_ers=_log_expected_rs(max(n, 2))))
    h, hx, reason = outs[0], outs[1:k], outs[k]    # H of every method, then their reason codes

    def _attrs(m):
        return dict(units="1", long_name=f"Hurst exponent (R/S, {m})", description=HURST_DESCRIPTIONS[m],
                    method=m)

    ds = xr.Dataset({
        "hurst": h.rename("hurst").assign_attrs(_attrs(method)),
        "reason": reason.rename("reason").assign_attrs(
            reasons.flag_attrs("reason code of the Hurst exponent"), **mv),
    })
    for m, v in zip(extra, hx):
        ds[f"hurst_{m}"] = v.rename(f"hurst_{m}").assign_attrs(_attrs(m))
    ds.attrs = {"description": HURST_DESCRIPTIONS[method], "method": method, **mv}
    return ds


def hurst_null_quantiles(n: int = 24, method: str = DEFAULTS.hurst_method, q=(0.05, 0.5, 0.95),
                         n_sims: int = DEFAULTS.hurst_null_sims, seed: int = 20000101,
                         nvals=None) -> pd.DataFrame:
    """Seeded Monte Carlo distribution of H under iid Gaussian noise for length ``n`` and ``method``:
    the kernel of ``hurst_rs`` on ``numpy.random.default_rng(seed).standard_normal((n_sims, n))``.

    Returns
    -------
    pandas.DataFrame with columns ``method, n, n_sims, seed, statistic, quantile, hurst``: one row
    per requested quantile (statistic "quantile") and one row with the mean (statistic "mean",
    quantile NaN). Simulations with undefined H (never for continuous noise) are excluded and
    counted in ``attrs["n_undefined"]``.
    """
    check_choices(method, (), HURST_METHODS, "method")
    if int(n) < 4 or int(n_sims) < 1:
        raise NepInputError(f"need n >= 4 and n_sims >= 1, got n={n}, n_sims={n_sims}", variable="n")
    qs = np.atleast_1d(np.asarray(q, dtype=float))
    if np.any((qs < 0) | (qs > 1)):
        raise NepInputError(f"quantiles must lie in [0, 1], got {list(qs)}", variable="q")
    x = np.random.default_rng(seed).standard_normal((int(n_sims), int(n)))
    h = K.hurst_kernel(x, np.array([HURST_METHODS[method]]), 4, _nvals_array(nvals, n),
                        _log_expected_rs(int(n)))[0][0]
    ok = np.isfinite(h)
    vals = np.quantile(h[ok], qs)
    base = dict(method=method, n=int(n), n_sims=int(n_sims), seed=int(seed))
    rows = [dict(base, statistic="quantile", quantile=float(qq), hurst=float(v)) for qq, v in zip(qs, vals)]
    rows.append(dict(base, statistic="mean", quantile=np.nan, hurst=float(h[ok].mean())))
    df = pd.DataFrame(rows)
    df.attrs = {"description": "H of iid N(0,1) series under the null; " + HURST_DESCRIPTIONS[method],
                "n_undefined": int((~ok).sum())}
    return df
