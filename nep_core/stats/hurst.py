"""Hurst exponent by rescaled-range (R/S) analysis per pixel, and its Monte Carlo null."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import xarray as xr

from .. import vocab
from ..errors import NepInputError
from . import _kernels as K
from ._common import DEFAULTS, apply_rows, check_input, min_valid_attrs, reason_attrs, resolve_min_valid

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


def _hurst_rows(y2, *, methods, min_valid, nvals, log_ers):
    h, reason = K.hurst_kernel(y2, methods, min_valid, nvals, log_ers)
    return (h[0], reason[0], *h[1:])


def hurst_rs(da: xr.DataArray, dim: str = "year", method: str = DEFAULTS.hurst_method,
             min_valid: int | None = DEFAULTS.min_valid, nvals=None, extra_methods=()) -> xr.Dataset:
    """Hurst exponent by R/S analysis along ``dim``, in one of three named variants.

    Parameters
    ----------
    da : xarray.DataArray
        Any dims including ``dim``; numpy- or dask-backed. Missing years are dropped and the
        remaining values treated as consecutive (R/S needs an evenly spaced series).
    dim : str
    method : {"prefix", "diff", "alp"}
        See METHODS section 4 and ``HURST_DESCRIPTIONS``. At n = 24 under iid noise the means are
        about 0.64 (prefix), 0.39 (diff) and ~0.5 (alp): compare with ``hurst_null_quantiles``.
    min_valid : int, optional
        Fewest finite years (>= 4). Default (None): ceil(0.8 n) of the n years along ``dim``; an
        integer is absolute (``stats._common.resolve_min_valid``; the rule is in the attrs
        ``min_valid`` / ``min_valid_rule`` of ``reason`` and the Dataset).
    nvals : sequence of int, optional
        Block sizes for ``alp`` (default: nolds' ``logmid_n`` of each pixel's valid length; for
        n = 24 that is 3, 4, 5, 6, 7).
    extra_methods : sequence of {"prefix", "diff", "alp"}
        Further variants computed in the same pass over the pixels: adds ``hurst_<name>``, equal
        to the ``hurst`` of ``hurst_rs(da, method=name)``.

    Returns
    -------
    xarray.Dataset with ``hurst`` (units "1", float64) and ``reason`` (int8; CONSTANT where the
    series is constant or fewer than two R/S points exist), plus ``hurst_<name>`` per extra method.

    References
    ----------
    Hurst (1951); Anis & Lloyd (1976); Peters (1994); Schoelzel, nolds 0.6.2.
    """
    extra = list(extra_methods)
    for m in (method, *extra):
        if m not in HURST_METHODS:
            raise NepInputError(f"method must be one of {list(HURST_METHODS)}, got {m!r}",
                                variable="method")
    if len(set(extra)) != len(extra):
        raise NepInputError(f"extra_methods repeats a method: {extra}", variable="extra_methods")
    da = check_input(da, dim, "input")
    n = da.sizes[dim]
    min_valid, rule = resolve_min_valid(min_valid, n, 4, "R/S analysis")
    h, reason, *hx = apply_rows(
        _hurst_rows, da, dim, [np.float64, np.int8] + [np.float64] * len(extra),
        dict(methods=np.array([HURST_METHODS[m] for m in (method, *extra)], np.int64), min_valid=min_valid,
             nvals=_nvals_array(nvals, n), log_ers=_log_expected_rs(max(n, 2))))

    def _attrs(m):
        return dict(units="1", long_name=f"Hurst exponent (R/S, {m})", description=HURST_DESCRIPTIONS[m],
                    method=m)

    desc = HURST_DESCRIPTIONS[method]
    ds = xr.Dataset({
        "hurst": h.rename("hurst").assign_attrs(_attrs(method)),
        "reason": reason.rename("reason").assign_attrs(reason_attrs("reason code of the Hurst exponent"),
                                                       **min_valid_attrs(min_valid, rule)),
    })
    for m, v in zip(extra, hx):
        ds[f"hurst_{m}"] = v.rename(f"hurst_{m}").assign_attrs(_attrs(m))
    ds.attrs = {"description": desc, "method": method, **min_valid_attrs(min_valid, rule)}
    return ds


def hurst_null_quantiles(n: int = 24, method: str = DEFAULTS.hurst_method, q=(0.05, 0.5, 0.95),
                         n_sims: int = DEFAULTS.hurst_null_sims, seed: int = 20000101,
                         nvals=None) -> pd.DataFrame:
    """Seeded Monte Carlo distribution of H under iid Gaussian noise for length ``n`` and ``method``.

    Uses the same kernel as ``hurst_rs`` on an ``(n_sims, n)`` array of standard normal draws
    (``numpy.random.default_rng(seed)``).

    Returns
    -------
    pandas.DataFrame with columns ``method, n, n_sims, seed, statistic, quantile, hurst``: one row
    per requested quantile (statistic "quantile") and one row with the mean (statistic "mean",
    quantile NaN). Simulations with undefined H (never for continuous noise) are excluded and
    counted in ``attrs["n_undefined"]``.
    """
    if method not in HURST_METHODS:
        raise NepInputError(f"method must be one of {list(HURST_METHODS)}, got {method!r}",
                            variable="method")
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
    rows = [dict(statistic="quantile", quantile=float(qq), hurst=float(v)) for qq, v in zip(qs, vals)]
    rows.append(dict(statistic="mean", quantile=np.nan, hurst=float(h[ok].mean())))
    df = pd.DataFrame(rows)
    df.insert(0, "seed", int(seed))
    df.insert(0, "n_sims", int(n_sims))
    df.insert(0, "n", int(n))
    df.insert(0, "method", method)
    df.attrs = {"description": "H of iid N(0,1) series under the null; " + HURST_DESCRIPTIONS[method],
                "n_undefined": int((~ok).sum())}
    return df
