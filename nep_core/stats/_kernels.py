"""Private per-pixel kernels: plain arrays in, plain arrays out, time on the LAST axis, no xarray.

Every kernel takes a 2-D array ``y`` of shape ``(npix, n)`` (float32 or float64; any memory layout,
e.g. the Fortran-ordered view of a block stored time-first) and returns 1-D arrays of length
``npix``. Pixels are processed in parallel blocks (``numba.prange``); each block allocates its
scratch buffers once, so memory is ``O(n_threads * n^2)`` and never ``O(npix * n^2)`` (the
pairwise-slope array of the whole map is never materialised).

The parallel kernels release the GIL. Inside dask tasks (``single_thread()``) they run on one
thread each: the blocks are the parallelism, and a kernel's OpenMP team beside another block's
oversubscribes the cores. ``nep_core`` also asks OpenMP for passive waiting (its idle workers
otherwise spin for a while after each kernel and take the other tasks' cores).

Missing-data policy (shared by all kernels): NaN years are dropped per pixel (the remaining values
keep their true time positions where a kernel uses time); any +/-inf makes the pixel NaN with
reason ``NON_FINITE_INPUT``; fewer than ``min_valid`` finite values gives ``TOO_FEW_VALID``
(``ALL_NAN`` when there are none); all finite values identical gives ``CONSTANT``.
"""
from __future__ import annotations

import contextlib
import math

import numpy as np
from numba import njit, prange

from .. import reasons as R

_VALID = np.int8(R.VALID)
_ALL_NAN = np.int8(R.ALL_NAN)
_TOO_FEW = np.int8(R.TOO_FEW_VALID)
_CONSTANT = np.int8(R.CONSTANT)
_NONFINITE = np.int8(R.NON_FINITE_INPUT)
_NEGVAR = np.int8(R.NEGATIVE_VARIANCE)
_NOCOV = np.int8(R.NO_COVARIATE)
_NONPOSITIVE_MEAN_ = np.int8(R.NONPOSITIVE_MEAN)

CORR_NONE, CORR_HAMED_RAO, CORR_YUE_WANG, CORR_TFPW = 0, 1, 2, 3
HURST_PREFIX, HURST_DIFF, HURST_ALP = 0, 1, 2

_BLOCK = 256  # pixels per parallel work item


# ----------------------------------------------------------------------------------- small helpers
@njit(cache=True, inline="always")
def _compact(y, i, t, yv, tv):
    """Copy the finite values of row ``i`` (and their times) to ``yv``/``tv``.

    Returns (m, has_inf)."""
    n = y.shape[1]
    m = 0
    has_inf = False
    for j in range(n):
        v = y[i, j]
        if math.isnan(v):
            continue
        if math.isinf(v):
            has_inf = True
            continue
        yv[m] = v
        tv[m] = t[j]
        m += 1
    return m, has_inf


@njit(cache=True, inline="always")
def _missing_code(m, has_inf, min_valid):
    """Reason code of a pixel with ``m`` finite values (the missing-data policy above): any inf ->
    NON_FINITE_INPUT, none -> ALL_NAN, fewer than ``min_valid`` -> TOO_FEW_VALID, else VALID."""
    if has_inf:
        return _NONFINITE
    if m == 0:
        return _ALL_NAN
    if m < min_valid:
        return _TOO_FEW
    return _VALID


@njit(cache=True)
def _insertion_sort(a, m):
    for k in range(1, m):
        v = a[k]
        j = k - 1
        while j >= 0 and a[j] > v:
            a[j + 1] = a[j]
            j -= 1
        a[j + 1] = v


@njit(cache=True)
def _partition(a, lo, hi, p, inclusive):
    """Reorder ``a[lo:hi]`` so that the elements < p (<= p if ``inclusive``) come first; return the
    index where the others start. Branch-free Lomuto pass: the swap is
    unconditional, only the store index moves conditionally (no mispredicted branches)."""
    store = lo
    if inclusive:
        for j in range(lo, hi):
            v = a[j]
            a[j] = a[store]
            a[store] = v
            store += v <= p
    else:
        for j in range(lo, hi):
            v = a[j]
            a[j] = a[store]
            a[store] = v
            store += v < p
    return store


@njit(cache=True)
def _select(a, lo, hi, k, b=None):
    """Quickselect: reorder ``a[lo:hi]`` so that ``a[k]`` is its (k-lo)-th smallest element,
    everything in ``a[lo:k]`` <= a[k] <= everything in ``a[k+1:hi]``; returns ``a[k]``.

    Median-of-three pivot and a branch-free Lomuto partition (the swap is unconditional, only the
    store index moves conditionally: no mispredicted branches on random data).
    Elements equal to the pivot are split off in a second branch-free pass, so heavily tied
    input stays linear. ``b`` is unused (kept for signature stability)."""
    while hi - lo > 1:
        mid = (lo + hi - 1) // 2
        x0 = a[lo]
        x1 = a[mid]
        x2 = a[hi - 1]
        if (x0 <= x1) == (x1 <= x2):
            pi = mid
        elif (x1 <= x0) == (x0 <= x2):
            pi = lo
        else:
            pi = hi - 1
        pivot = a[pi]
        a[pi] = a[hi - 1]
        a[hi - 1] = pivot
        store = _partition(a, lo, hi - 1, pivot, False)
        a[hi - 1] = a[store]
        a[store] = pivot
        if k == store:
            return pivot
        if k < store:
            hi = store
        else:
            s2 = store + 1
            for j in range(store + 1, hi):
                v = a[j]
                a[j] = a[s2]
                a[s2] = v
                s2 += v == pivot
            if k < s2:
                return pivot
            lo = s2
    return a[k]


@njit(cache=True)
def _ols(xs, ys, k):
    """Least squares of ys[:k] on xs[:k]: (slope, mean x, mean y, sum of squared x deviations)."""
    mx = 0.0
    my = 0.0
    for q in range(k):
        mx += xs[q]
        my += ys[q]
    mx /= k
    my /= k
    sxy = 0.0
    sxx = 0.0
    for q in range(k):
        sxy += (xs[q] - mx) * (ys[q] - my)
        sxx += (xs[q] - mx) ** 2
    return sxy / sxx, mx, my, sxx


@njit(cache=True)
def _ols_band(yv, tv, m, half):
    """(b - half * se, b + half * se) from the least-squares slope b of yv[:m] on tv[:m] and its
    standard error se. Only a guess of where the Sen slope's CI ranks lie (see ``_sen_mk_kernel``):
    it decides how the pairwise slopes are first split, never which values are selected."""
    b, tm, ym, sxx = _ols(tv, yv, m)
    r2 = 0.0
    for k in range(m):
        r = yv[k] - ym - b * (tv[k] - tm)
        r2 += r * r
    w = half * math.sqrt(r2 / ((m - 2.0) * sxx)) if m > 2 else 0.0
    return b - w, b + w


@njit(cache=True, inline="always")
def _span(k, c1, c2, nn):
    """The part [lo, hi) of [0, c1) | [c1, c2) | [c2, nn) that holds index k."""
    if k < c1:
        return 0, c1
    if k < c2:
        return c1, c2
    return c2, nn


@njit(cache=True)
def _min_from(a, lo, hi):
    v = a[lo]
    for j in range(lo + 1, hi):
        if a[j] < v:
            v = a[j]
    return v


@njit(cache=True)
def _tie_sums(ys, m):
    """For SORTED ys[:m]: (sum t(t-1)(2t+5), sum t(t-1)/2) over groups of tied values."""
    tsum = 0.0
    n1 = 0.0
    k = 0
    while k < m:
        g = 1
        while k + g < m and ys[k + g] == ys[k]:
            g += 1
        if g > 1:
            tsum += g * (g - 1.0) * (2.0 * g + 5.0)
            n1 += g * (g - 1.0) / 2.0
        k += g
    return tsum, n1


@njit(cache=True)
def _mk_s(x, m):
    """(S, number of tied pairs) of x[:m]; branch-free, so random signs cost no mispredictions."""
    s = 0
    eq = 0
    for a in range(m - 1):
        xa = x[a]
        for b in range(a + 1, m):
            d = x[b] - xa
            s += (d > 0) - (d < 0)
            eq += d == 0
    return float(s), eq


@njit(cache=True)
def _acf(x, m, nlags, out, xc):
    """Biased sample autocorrelation of x[:m] at lags 0..nlags (as statsmodels / pymannkendall).

    ``xc`` is scratch (length >= m) for the centred series. Each lag's sum runs over k = 0, 1, ...
    in that order (bit-identical to the textbook double loop); the loop over lags is innermost so
    that the lags are accumulated side by side in vector registers."""
    mean = 0.0
    for k in range(m):
        mean += x[k]
    mean /= m
    c0 = 0.0
    for k in range(m):
        d = x[k] - mean
        xc[k] = d
        c0 += d * d
    for lag in range(nlags + 1):
        out[lag] = 0.0
    for k in range(m):
        xk = xc[k]
        top = min(nlags, m - 1 - k)
        for lag in range(top + 1):
            out[lag] += xk * xc[k + lag]
    for lag in range(nlags + 1):
        out[lag] = out[lag] / c0 if c0 > 0 else np.nan


@njit(cache=True)
def _mk_var_s(n, tsum):
    """Var(S) of the Mann-Kendall S of n values, tie-corrected (Kendall 1975):
    [n(n-1)(2n+5) - tsum] / 18 with tsum = sum t(t-1)(2t+5) over tie groups (``_tie_sums``)."""
    return (n * (n - 1.0) * (2.0 * n + 5.0) - tsum) / 18.0


@njit(cache=True)
def _mk_z_p(s, var):
    """Continuity-corrected Z = (S -/+ 1) / sqrt(Var) (0 for S = 0) and its two-sided normal p,
    2 (1 - Phi(|Z|)) = erfc(|Z| / sqrt(2)). Needs Var > 0."""
    z = 0.0
    if s > 0:
        z = (s - 1.0) / math.sqrt(var)
    elif s < 0:
        z = (s + 1.0) / math.sqrt(var)
    return z, math.erfc(abs(z) / math.sqrt(2.0))


@njit(cache=True)
def _ar1_ess_factor(r1, m):
    """n/n* = 1 + 2 sum_{k=1}^{m-1} (1 - k/m) r1^k: the effective-sample-size ratio of m values of an
    AR(1) process with lag-1 autocorrelation r1 (rho_k = r1^k; Yue & Wang 2004). Summed term by term
    (the closed form 1 + 2 [r1^(m+1) - m r1^2 + (m-1) r1] / (m (1 - r1)^2) cancels near r1 = 1)."""
    acc = 0.0
    p = 1.0
    for k in range(1, m):
        p *= r1
        acc += (1.0 - k / m) * p
    return 1.0 + 2.0 * acc


# ------------------------------------------------------------------------------- Theil-Sen + MK
@njit(cache=True)
def _test_stat(correction, yv, tv, m, sl, s, var0, z_acf, ys, w, acf, xc):
    """(S, Var(S)) of the Mann-Kendall test under ``correction`` for the finite values yv[:m] at
    times tv[:m], given the Sen slope ``sl``, the original S and the tie-corrected Var(S) ``var0``.
    ``ys``, ``w``, ``acf``, ``xc`` are scratch buffers of length >= m."""
    if correction == CORR_NONE:
        return s, var0
    for k2 in range(m):                 # every correction starts from the Sen-detrended series
        w[k2] = yv[k2] - sl * tv[k2]
    if correction == CORR_HAMED_RAO:
        # ranks (average for ties) of the detrended series
        for k2 in range(m):
            wk = w[k2]
            less = 0
            eq = 0
            for c in range(m):  # branch-free counts (vectorised)
                less += w[c] < wk
                eq += w[c] == wk
            ys[k2] = less + 0.5 * (eq + 1.0)
        _acf(ys, m, m - 1, acf, xc)
        bound = z_acf / math.sqrt(m)
        sni = 0.0
        for lag in range(1, m):
            r = acf[lag]
            if r > bound or r < -bound:
                sni += (m - lag) * (m - lag - 1.0) * (m - lag - 2.0) * r
        factor = 1.0 + 2.0 / (m * (m - 1.0) * (m - 2.0)) * sni
        return s, var0 * factor
    _acf(w, m, 1, acf, xc)              # lag-1 autocorrelation r1 of the detrended series
    r1 = acf[1]
    if correction == CORR_YUE_WANG:
        return s, var0 * _ar1_ess_factor(r1, m)
    if correction == CORR_TFPW:
        for k2 in range(m - 1):
            ys[k2] = w[k2 + 1] - r1 * w[k2] + sl * tv[k2 + 1]
        s_test, eq = _mk_s(ys, m - 1)
        tsum2 = 0.0
        if eq > 0:  # tie groups only exist where some pair is tied
            _insertion_sort(ys, m - 1)
            tsum2, _ = _tie_sums(ys, m - 1)
        return s_test, _mk_var_s(m - 1, tsum2)
    return s, var0


@njit(parallel=True, cache=True, nogil=True)
def _sen_mk_kernel(y, t, z_ci, z_acf, min_valid, correction, extra):
    """Theil-Sen slope with rank CI, Mann-Kendall S / Var(S) / Z / p, Kendall tau-b, per row.

    Parameters
    ----------
    y : (npix, n) float array, time on the last axis (NaN = missing year).
    t : (n,) float64, strictly increasing time coordinate (years).
    z_ci : float, z_{1-alpha/2} for the slope confidence interval.
    z_acf : float, z_{1-alpha/2} for the Hamed-Rao significant-lag filter.
    min_valid : int, fewest finite years.
    correction : int, CORR_NONE / CORR_HAMED_RAO / CORR_YUE_WANG / CORR_TFPW.
    extra : (k,) int64 array of further corrections whose z and p are wanted too (the pairwise
        slopes, S and the selections are shared, so k extra tests cost little).

    Returns
    -------
    slope, slope_low, slope_high, intercept, s, var_s, z, p, tau : (npix,) float64
    n_valid : (npix,) int16; reason : (npix,) int8; z_extra, p_extra : (k, npix) float64
    """
    npix, n = y.shape
    npairs = n * (n - 1) // 2
    slope = np.full(npix, np.nan)
    lo_ = np.full(npix, np.nan)
    hi_ = np.full(npix, np.nan)
    icpt = np.full(npix, np.nan)
    s_out = np.full(npix, np.nan)
    v_out = np.full(npix, np.nan)
    z_out = np.full(npix, np.nan)
    p_out = np.full(npix, np.nan)
    tau = np.full(npix, np.nan)
    nval = np.zeros(npix, np.int16)
    reason = np.zeros(npix, np.int8)
    nx = extra.shape[0]
    z_x = np.full((nx, npix), np.nan)
    p_x = np.full((nx, npix), np.nan)
    nblocks = (npix + _BLOCK - 1) // _BLOCK
    for b in prange(nblocks):
        buf = np.empty(max(npairs, 1))
        buf2 = np.empty(max(npairs, 1))
        tv2 = np.empty(n)
        yv = np.empty(n)
        tv = np.empty(n)
        ys = np.empty(n)
        w = np.empty(n)
        acf = np.empty(n)
        xc = np.empty(n)
        for i in range(b * _BLOCK, min((b + 1) * _BLOCK, npix)):
            m, has_inf = _compact(y, i, t, yv, tv)
            nval[i] = m
            code = _missing_code(m, has_inf, min_valid)
            if code != _VALID:
                reason[i] = code
                continue
            # pairwise slopes, S and the number of tied pairs in one branch-free pass (integer
            # counters, so the inner loop vectorises)
            si = 0
            eq = 0
            k = 0
            for a in range(m - 1):
                ya = yv[a]
                ta = tv[a]
                for c in range(a + 1, m):
                    d = yv[c] - ya
                    si += (d > 0) - (d < 0)
                    eq += d == 0
                    buf[k] = d / (tv[c] - ta)
                    k += 1
            nn = k
            s = float(si)
            for k2 in range(m):
                ys[k2] = yv[k2]
            if m % 2 == 1:
                ymed = _select(ys, 0, m, m // 2, tv2)
                tmed = tv[m // 2]
            else:
                ymed = 0.5 * (_select(ys, 0, m, m // 2 - 1, tv2) + _min_from(ys, m // 2, m))
                tmed = 0.5 * (tv[m // 2 - 1] + tv[m // 2])
            tsum = 0.0
            n1 = 0.0
            if eq > 0:  # ties: group sizes from the sorted values (rare for real-valued data)
                _insertion_sort(ys, m)
                if ys[0] == ys[m - 1]:
                    # constant series: the slope is exactly 0, the test statistic undefined
                    slope[i] = 0.0
                    lo_[i] = 0.0
                    hi_[i] = 0.0
                    icpt[i] = ymed
                    s_out[i] = 0.0
                    v_out[i] = 0.0
                    reason[i] = _CONSTANT
                    continue
                tsum, n1 = _tie_sums(ys, m)
            var0 = _mk_var_s(m, tsum)
            # rank-based CI (Sen 1968; R trend::sens.slope; scipy.stats.theilslopes), 0-based ranks
            cc = z_ci * math.sqrt(var0)
            k_lo = int(np.rint((nn - cc) / 2.0)) - 1
            k_hi = int(np.rint((nn + cc) / 2.0))
            if k_lo < 0:
                k_lo = 0
            if k_hi > nn - 1:
                k_hi = nn - 1
            if nn % 2 == 1:
                k_m1 = nn // 2
                k_m2 = nn // 2
            else:
                k_m1 = nn // 2 - 1
                k_m2 = nn // 2
            # The four ranks k_lo <= k_m1 <= k_m2 <= k_hi (C >= 0) lie in the middle ~30% of the
            # pairs. Two partition passes first split the slopes at a guessed band around them
            # (least-squares slope +/- 1.4 z_ci SE: holds all four ranks for ~95% of pixels), so the
            # selections then run inside ~100 of the 276 slopes (n = 24). Where a rank falls
            # outside the band its selection runs in the outer part instead: the band changes
            # the work, never the values (order statistics are unique).
            p_lo, p_hi = _ols_band(yv, tv, m, 1.4 * z_ci)
            c1 = _partition(buf, 0, nn, p_lo, False)
            c2 = _partition(buf, c1, nn, p_hi, True)
            # median first (splits its part), then the other ranks inside their (sub)parts
            lo1, hi1 = _span(k_m1, c1, c2, nn)
            v_m1 = _select(buf, lo1, hi1, k_m1, buf2)
            if k_m2 == k_m1:
                v_m2 = v_m1
            elif k_m2 < hi1:
                v_m2 = _min_from(buf, k_m2, hi1)
            else:
                v_m2 = _min_from(buf, k_m2, _span(k_m2, c1, c2, nn)[1])
            if k_lo == k_m1:
                v_lo = v_m1
            elif k_lo >= lo1:
                v_lo = _select(buf, lo1, k_m1, k_lo, buf2)
            else:
                lo2, hi2 = _span(k_lo, c1, c2, nn)
                v_lo = _select(buf, lo2, hi2, k_lo, buf2)
            if k_hi == k_m1:
                v_hi = v_m1
            elif k_hi < hi1:
                v_hi = _select(buf, k_m1 + 1, hi1, k_hi, buf2)
            else:
                lo2, hi2 = _span(k_hi, c1, c2, nn)
                v_hi = _select(buf, lo2, hi2, k_hi, buf2)
            sl = 0.5 * (v_m1 + v_m2)
            slope[i] = sl
            lo_[i] = v_lo
            hi_[i] = v_hi
            icpt[i] = ymed - sl * tmed
            n0 = m * (m - 1.0) / 2.0
            tau[i] = s / math.sqrt(n0 * (n0 - n1))
            for kx in range(nx):
                s_x, var_x = _test_stat(extra[kx], yv, tv, m, sl, s, var0, z_acf, ys, w, acf, xc)
                if var_x > 0.0:
                    z_x[kx, i], p_x[kx, i] = _mk_z_p(s_x, var_x)
            s_test, var = _test_stat(correction, yv, tv, m, sl, s, var0, z_acf, ys, w, acf, xc)
            s_out[i] = s_test
            v_out[i] = var
            if not (var > 0.0):
                reason[i] = _NEGVAR
                continue
            z_out[i], p_out[i] = _mk_z_p(s_test, var)
    return slope, lo_, hi_, icpt, s_out, v_out, z_out, p_out, tau, nval, reason, z_x, p_x


# --------------------------------------------------------------------------- coefficient of var.
@njit(parallel=True, cache=True, nogil=True)
def _cv_kernel(y, ddof, min_mean, min_valid):
    """Cv = SD(ddof) / mean over the finite values of each row of y (npix, n); NaN with reason
    NONPOSITIVE_MEAN where mean <= max(min_mean, 0). Returns cv (npix,) float64, reason (npix,) int8."""
    npix, n = y.shape
    cv = np.full(npix, np.nan)
    reason = np.zeros(npix, np.int8)
    thr = min_mean if min_mean > 0.0 else 0.0
    for i in prange(npix):
        m = 0
        s1 = 0.0
        has_inf = False
        for j in range(n):
            v = y[i, j]
            if math.isnan(v):
                continue
            if math.isinf(v):
                has_inf = True
                continue
            s1 += v
            m += 1
        code = _missing_code(m, has_inf, max(min_valid, ddof + 1))   # the SD needs m - ddof >= 1
        if code != _VALID:
            reason[i] = code
            continue
        mean = s1 / m
        if not (mean > thr):
            reason[i] = _NONPOSITIVE_MEAN_
            continue
        s2 = 0.0
        for j in range(n):
            v = y[i, j]
            if not math.isnan(v):
                s2 += (v - mean) ** 2
        cv[i] = math.sqrt(s2 / (m - ddof)) / mean
    return cv, reason


# ------------------------------------------------------------------------------------- Hurst R/S
@njit(cache=True)
def _ols_slope(xs, ys, k):
    return _ols(xs, ys, k)[0]


@njit(cache=True)
def _rs_prefix(x, L, xs, ys, acc, logt):
    """H from log(R/S) on log(tau) over prefixes tau = 2..L (population SD). NaN if < 2 points.

    ``acc`` is (5, >= L+1) scratch; ``logt[tau]`` = log(tau). All prefixes are accumulated side by
    side: the loop over tau is innermost (vectorised), while each tau's sums still run over
    q = 0, 1, ... in order, so the result is bit-identical to computing every prefix on its own."""
    mean = acc[0]
    cum = acc[1]
    ss = acc[2]
    cmax = acc[3]
    cmin = acc[4]
    run = 0.0
    for tau in range(1, L + 1):
        run += x[tau - 1]
        mean[tau] = run / tau
        cum[tau] = 0.0
        ss[tau] = 0.0
        cmax[tau] = 0.0
        cmin[tau] = 0.0
    for q in range(L):
        xq = x[q]
        for tau in range(max(q + 1, 2), L + 1):
            dv = xq - mean[tau]
            c = cum[tau] + dv
            cum[tau] = c
            ss[tau] += dv * dv
            cmax[tau] = max(cmax[tau], c)
            cmin[tau] = min(cmin[tau], c)
    k = 0
    for tau in range(2, L + 1):
        r = cmax[tau] - cmin[tau]
        sd = math.sqrt(ss[tau] / tau)
        if r > 0.0 and sd > 0.0:
            xs[k] = logt[tau]
            ys[k] = math.log(r / sd)
            k += 1
    if k < 2:
        return np.nan
    return _ols_slope(xs, ys, k)


@njit(cache=True)
def _logmid_n(L, out):
    """nolds.logmid_n(L, ratio=1/4, nsteps=15): unique round(exp(.)) values; returns count."""
    ratio = 0.25
    nsteps = 15
    ll = math.log(L)
    span = ll * ratio
    start = ll * (1.0 - ratio) * 0.5
    k = 0
    for q in range(nsteps):
        v = int(np.rint(math.exp(start + q / nsteps * span)))
        # values are non-decreasing in q, so uniqueness = differs from the last one kept
        if k == 0 or v != out[k - 1]:
            out[k] = v
            k += 1
    return k


@njit(cache=True)
def _rs_alp(x, L, nv, nk, log_ers, xs, ys, logt):
    """nolds-style R/S: for block size n in nv[:nk], mean R/S over the floor(L/n) leading blocks
    (SD with ddof=1, zero-range blocks skipped), minus log Anis-Lloyd-Peters E[R/S]_n; H = slope + 0.5.
    ``logt[n]`` = log(n) for n <= L."""
    k = 0
    for q in range(nk):
        bn = nv[q]
        if bn < 2 or bn > L:
            continue
        nb = L // bn
        acc = 0.0
        cnt = 0
        for blk in range(nb):
            o = blk * bn
            mean = 0.0
            for u in range(bn):
                mean += x[o + u]
            mean /= bn
            cum = 0.0
            cmax = -np.inf
            cmin = np.inf
            ss = 0.0
            for u in range(bn):
                dv = x[o + u] - mean
                cum += dv
                ss += dv * dv
                if cum > cmax:
                    cmax = cum
                if cum < cmin:
                    cmin = cum
            r = cmax - cmin
            if r != 0.0:
                acc += r / math.sqrt(ss / (bn - 1))
                cnt += 1
        if cnt > 0:
            xs[k] = logt[bn]
            ys[k] = math.log(acc / cnt) - log_ers[bn]
            k += 1
    if k < 2:
        return np.nan
    return _ols_slope(xs, ys, k) + 0.5


@njit(parallel=True, cache=True, nogil=True)
def _hurst_kernel(y, methods, min_valid, nvals, log_ers):
    """Hurst exponent by R/S per row, for each method in ``methods`` (HURST_PREFIX / HURST_DIFF /
    HURST_ALP) from one pass over the pixels (the valid values are gathered once).

    ``nvals``: block sizes for ALP (empty = nolds default ``logmid_n`` of each pixel's length);
    ``log_ers[n]`` = log of the Anis-Lloyd-Peters expected R/S for block size n.
    Missing years are dropped (the valid values are treated as consecutive).

    Returns h (k, npix) float64 and reason (k, npix) int8, one row per method."""
    npix, n = y.shape
    nm = methods.shape[0]
    h = np.full((nm, npix), np.nan)
    reason = np.zeros((nm, npix), np.int8)
    t = np.zeros(n)
    logt = np.zeros(n + 1)
    for tau in range(1, n + 1):
        logt[tau] = math.log(tau)
    # ALP block sizes per series length L (nolds' logmid_n of L, or the given ones): a table, not
    # 15 exp() per pixel
    nv_tab = np.zeros((n + 1, max(16, nvals.shape[0])), np.int64)
    nk_tab = np.zeros(n + 1, np.int64)
    for L in range(1, n + 1):
        if nvals.shape[0] > 0:
            nk_tab[L] = nvals.shape[0]
            nv_tab[L, :nvals.shape[0]] = nvals
        else:
            nk_tab[L] = _logmid_n(L, nv_tab[L])
    nblocks = (npix + _BLOCK - 1) // _BLOCK
    for b in prange(nblocks):
        yv = np.empty(n)
        tv = np.empty(n)
        dv = np.empty(n)
        xs = np.empty(n + 16)
        ys = np.empty(n + 16)
        acc = np.empty((5, n + 1))
        for i in range(b * _BLOCK, min((b + 1) * _BLOCK, npix)):
            m, has_inf = _compact(y, i, t, yv, tv)
            code = _missing_code(m, has_inf, min_valid)
            if code == _VALID:
                vmin = yv[0]
                vmax = yv[0]
                for k in range(m):
                    if yv[k] < vmin:
                        vmin = yv[k]
                    if yv[k] > vmax:
                        vmax = yv[k]
                if vmin == vmax:
                    code = _CONSTANT
            if code != _VALID:
                for q in range(nm):
                    reason[q, i] = code
                continue
            for q in range(nm):
                method = methods[q]
                x = yv
                L = m
                if method == HURST_DIFF:
                    for k in range(m - 1):
                        dv[k] = yv[k + 1] - yv[k]
                    x = dv
                    L = m - 1
                if method == HURST_ALP:
                    val = _rs_alp(x, L, nv_tab[L], nk_tab[L], log_ers, xs, ys, logt)
                else:
                    val = _rs_prefix(x, L, xs, ys, acc, logt)
                if math.isnan(val):
                    reason[q, i] = _CONSTANT
                h[q, i] = val
    return h, reason


# ---------------------------------------------------------------------------------- Student t
@njit(cache=True, inline="always")
def _t_ratio(j, odd):
    """Coefficient j+1 over coefficient j of the series in ``_t_two_sided_p`` (b_j odd, a_j even)."""
    return (2.0 * j + 2.0) / (2.0 * j + 3.0) if odd else (2.0 * j + 1.0) / (2.0 * j + 2.0)


@njit(cache=True)
def _t_two_sided_p(tabs, nu):
    """P(|T| >= tabs) for Student's t with an integer ``nu`` >= 1 degrees of freedom.

    Closed forms for integer nu (Abramowitz & Stegun 26.7.3-4), with x = nu / (nu + t^2) =
    cos^2(theta), theta = atan(t / sqrt(nu)): P(|T| < t) = sin(theta) sum_{j<nu/2} a_j x^j (nu even,
    a_0 = 1, a_j = a_{j-1} (2j-1)/(2j)), or (2/pi) (theta + sin(theta) cos(theta) sum_{j<(nu-1)/2}
    b_j x^j) (nu odd, b_0 = 1, b_j = b_{j-1} 2j/(2j+1)). The full series sum to 1/sin(theta) and
    (pi/2 - theta)/(sin(theta) cos(theta)), so the p-value is the series' tail: summed directly
    where 1 - the finite sum is below 0.05 (no cancellation; positive terms, ratio < x; about
    40 nu / t^2 terms), as 1 - the finite sum elsewhere. Agrees with scipy.special.stdtr to ~1e-13
    relative (tests)."""
    if math.isnan(tabs) or nu < 1:
        return np.nan
    if math.isinf(tabs):
        return 0.0
    t2 = tabs * tabs
    q = math.sqrt(nu + t2)
    sn = tabs / q                     # sin(theta)
    cs = math.sqrt(nu) / q            # cos(theta)
    x = nu / (nu + t2)
    odd = nu % 2 == 1
    J = (nu - 1) // 2 if odd else nu // 2
    c = 1.0
    tot = 0.0
    for j in range(J):
        tot += c
        c *= x * _t_ratio(j, odd)
    if odd:
        p = 1.0 - (2.0 / math.pi) * (math.atan2(tabs, math.sqrt(nu)) + sn * cs * tot)
    else:
        p = 1.0 - sn * tot
    if p >= 0.05:
        return p
    # small p: 1 - (finite sum) cancels; sum the tail j >= J instead (c is now its first term;
    # positive terms, ratio < x)
    tot = 0.0
    j = J
    while c > 1e-17 * tot:
        tot += c
        c *= x * _t_ratio(j, odd)
        j += 1
    return (2.0 / math.pi) * sn * cs * tot if odd else sn * tot


# --------------------------------------------------------------------------- partial correlation
@njit(parallel=True, cache=True, nogil=True)
def _partial_corr_kernel(xs, min_valid):
    """Partial correlation of variable 0 with each variable j >= 1, controlling for all others.

    ``xs``: a tuple of nvar arrays (npix, n) of one type (e.g. the Fortran-ordered views of
    time-first blocks: no stacked copy is needed); each pixel's values are gathered once.
    Listwise deletion of years missing in any variable; each variable is standardised
    (population SD) on the kept years; R = correlation matrix, P = inv(R) by
    Gauss-Jordan with partial pivoting; r_0j = -P_0j / sqrt(P_00 P_jj), clipped to [-1, 1].

    Two-sided p of each r from Student's t, t = r sqrt(df / (1 - r^2)), df = n_valid - nvar
    (= n_valid - 2 - k for k = nvar - 2 controls); p = 0 where |r| = 1.

    Returns r (npix, nvar-1) float64, p (npix, nvar-1) float64, n_valid (npix,) int16,
    reason (npix,) int8."""
    nvar = len(xs)
    npix, n = xs[0].shape
    r_out = np.full((npix, nvar - 1), np.nan)
    p_out = np.full((npix, nvar - 1), np.nan)
    nval = np.zeros(npix, np.int16)
    reason = np.zeros(npix, np.int8)
    nblocks = (npix + _BLOCK - 1) // _BLOCK
    for b in prange(nblocks):
        z = np.empty((nvar, n))
        c = np.empty((nvar, 2 * nvar))
        keep = np.empty(n, np.bool_)
        x = np.empty((nvar, n))      # this pixel's values (float32 -> float64 is exact)
        for i in range(b * _BLOCK, min((b + 1) * _BLOCK, npix)):
            for v in range(nvar):
                a = xs[v]
                for j in range(n):
                    x[v, j] = a[i, j]
            has_inf = False
            tgt_any = False
            drv_missing = False
            for v in range(nvar):
                anyv = False
                for j in range(n):
                    val = x[v, j]
                    if math.isinf(val):
                        has_inf = True
                    elif not math.isnan(val):
                        anyv = True
                if v == 0:
                    tgt_any = anyv
                elif not anyv:
                    drv_missing = True
            if has_inf:
                reason[i] = _NONFINITE
                continue
            if not tgt_any:
                reason[i] = _ALL_NAN
                continue
            if drv_missing:
                reason[i] = _NOCOV
                continue
            m = 0
            for j in range(n):
                ok = True
                for v in range(nvar):
                    if math.isnan(x[v, j]):
                        ok = False
                        break
                keep[j] = ok
                if ok:
                    m += 1
            nval[i] = m
            if m < min_valid:
                reason[i] = _TOO_FEW
                continue
            const = False
            for v in range(nvar):
                k = 0
                mean = 0.0
                vmin = np.inf
                vmax = -np.inf
                for j in range(n):
                    if keep[j]:
                        val = x[v, j]
                        z[v, k] = val
                        mean += val
                        if val < vmin:
                            vmin = val
                        if val > vmax:
                            vmax = val
                        k += 1
                if vmin == vmax:
                    const = True
                    break
                mean /= m
                ss = 0.0
                for k2 in range(m):
                    z[v, k2] -= mean
                    ss += z[v, k2] ** 2
                sd = math.sqrt(ss / m)
                for k2 in range(m):
                    z[v, k2] /= sd
            if const:
                reason[i] = _CONSTANT
                continue
            # augmented [R | I]
            for a in range(nvar):
                for bb in range(a, nvar):
                    acc = 0.0
                    for k2 in range(m):
                        acc += z[a, k2] * z[bb, k2]
                    acc /= m
                    c[a, bb] = acc
                    c[bb, a] = acc
                for bb in range(nvar):
                    c[a, nvar + bb] = 1.0 if a == bb else 0.0
            singular = False
            for col in range(nvar):
                piv = col
                best = abs(c[col, col])
                for rr in range(col + 1, nvar):
                    if abs(c[rr, col]) > best:
                        best = abs(c[rr, col])
                        piv = rr
                if best < 1e-12:
                    singular = True
                    break
                if piv != col:
                    for cc in range(2 * nvar):
                        tmp = c[col, cc]
                        c[col, cc] = c[piv, cc]
                        c[piv, cc] = tmp
                d = c[col, col]
                for cc in range(2 * nvar):
                    c[col, cc] /= d
                for rr in range(nvar):
                    if rr != col:
                        f = c[rr, col]
                        if f != 0.0:
                            for cc in range(2 * nvar):
                                c[rr, cc] -= f * c[col, cc]
            if singular:
                reason[i] = _CONSTANT
                continue
            p00 = c[0, nvar]
            bad = not (p00 > 0.0)
            for v in range(1, nvar):
                if not (c[v, nvar + v] > 0.0):
                    bad = True
            if bad:  # an inverse correlation matrix has a positive diagonal; not so: numerically singular
                reason[i] = _CONSTANT
                continue
            for v in range(1, nvar):
                r = -c[0, nvar + v] / math.sqrt(p00 * c[v, nvar + v])
                if r > 1.0:
                    r = 1.0
                elif r < -1.0:
                    r = -1.0
                r_out[i, v - 1] = r
                df = m - nvar
                if df >= 1:
                    r2 = r * r
                    p_out[i, v - 1] = (0.0 if r2 >= 1.0
                                       else _t_two_sided_p(abs(r) * math.sqrt(df / (1.0 - r2)), df))
    return r_out, p_out, nval, reason


@contextlib.contextmanager
def single_thread():
    """Run the numba kernels called from this thread on this thread only (thread-local)."""
    import numba

    prev = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(prev)
