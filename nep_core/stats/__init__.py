"""Per-pixel statistics of annual series: public xarray wrappers over private numba kernels.

Every wrapper takes an ``xarray.DataArray`` (numpy- or dask-backed) with a time dimension ``dim``
(default ``"year"``) and any number of other dimensions, and returns an ``xarray.Dataset`` of
named variables with ``units`` and a ``description`` naming the exact variant, plus a ``reason``
variable (int8 codes of ``nep_core.reasons``) for every pixel that carries no value. Kernels live in
``nep_core.stats._kernels`` (time on the last axis, ``numba.prange`` over pixels, no xarray).

Exact variants
--------------
``sen_mk``
    Theil-Sen slope = median over pairs i<j of (y_j - y_i)/(t_j - t_i), t = the ``dim`` coordinate
    (true spacing, NaN years dropped). CI at 1 - alpha: the sorted pairwise slopes at 1-based ranks
    round((N - C)/2) and round((N + C)/2) + 1, C = z_{1-alpha/2} sqrt(Var(S)) (Sen 1968; identical
    to R ``trend::sens.slope`` and ``scipy.stats.theilslopes``). Intercept = median(y) -
    slope * median(t) on the coordinate values (scipy ``method="separate"``; pymannkendall's
    intercept is this + slope * t_0). Mann-Kendall S, tie-corrected Var(S), continuity-corrected Z,
    two-sided normal p. ``tau`` is Kendall's tau-b (as ``scipy.stats.kendalltau``; pymannkendall
    reports tau-a = S / (n(n-1)/2), equal when y has no ties). ``correction``: ``None``,
    ``"hamed_rao"`` (significant rank-ACF lags of the Sen-detrended series, n/n* <= 0 -> NaN z/p with
    reason NEGATIVE_VARIANCE, no floor), ``"yue_wang"`` (AR(1) effective sample size of Yue & Wang
    2004: n/n* = 1 + 2 sum_{k=1}^{n-1} (1 - k/n) r1^k, r1 the lag-1 autocorrelation of the
    Sen-detrended series), ``"tfpw"`` (trend-free pre-whitening, S of the n-1 pre-whitened
    values). Slope, CI and tau are never corrected.
``trend_class`` etc.
    In ``nep_core.classify``.
``fdr``
    Benjamini-Hochberg (or -Yekutieli) over all finite p of the map
    (``scipy.stats.false_discovery_control``); NaN p are False and not counted in m.
``cv``
    SD(ddof) / mean over the finite years; NaN with reason NONPOSITIVE_MEAN where mean <= max(min_mean, 0).
``hurst_rs``
    ``"prefix"`` (prefixes tau = 2..n, population SD, OLS of log R/S on log tau), ``"diff"`` (the
    same on first differences), ``"alp"`` (nolds-style block-averaged R/S minus the Anis-Lloyd-Peters
    expectation, + 0.5). ``hurst_null_quantiles`` gives seeded Monte Carlo quantiles and the mean of
    H under iid Gaussian noise for the same n and estimator.
``partial_corr``
    Listwise deletion, standardisation, r = -P_xy / sqrt(P_xx P_yy) with P the inverse correlation
    matrix; t = r sqrt((n-2-k)/(1-r^2)), df = n - 2 - k, two-sided Student-t p.
``per_year``
    Units helper: ``"g C m-2 a-1"`` -> ``"g C m-2 a-2"``.
"""
from ._common import per_year
from .hurst import HURST_DESCRIPTIONS, HURST_METHODS, hurst_null_quantiles, hurst_rs
from .pcorr import partial_corr
from .summary import hurst_null_table, per_pixel_statistics
from .trend import CORRECTIONS, sen_mk
from .variability import cv, fdr

__all__ = ["sen_mk", "fdr", "cv", "hurst_rs", "hurst_null_quantiles", "partial_corr", "per_year",
           "CORRECTIONS", "HURST_METHODS", "HURST_DESCRIPTIONS", "per_pixel_statistics",
           "hurst_null_table"]
