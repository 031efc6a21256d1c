"""Theil-Sen slope with its rank CI and the Mann-Kendall test (S, Var(S) with ties, Z, p, Kendall
tau-b) under one of four serial-correlation treatments, per row."""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .common import (BLOCK, CONSTANT, NEGVAR, VALID, compact, min_from, missing_code, ols, partition,
                     select, span)

CORR_NONE, CORR_HAMED_RAO, CORR_YUE_WANG, CORR_TFPW = 0, 1, 2, 3


@njit(cache=True)
def _ols_band(yv, tv, m, half):
    """b -/+ half * se of the least-squares slope b of yv[:m] on tv[:m]: where the Sen CI ranks
    probably lie (it splits the work of the selections, never changes their values)."""
    b, tm, ym, sxx = ols(tv, yv, m)
    r2 = 0.0
    for k in range(m):
        r = yv[k] - ym - b * (tv[k] - tm)
        r2 += r * r
    w = half * math.sqrt(r2 / ((m - 2.0) * sxx)) if m > 2 else 0.0
    return b - w, b + w


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
def _acf(x, m, nlags, out, xc):
    """Biased sample autocorrelation of x[:m] at lags 0..nlags (as statsmodels / pymannkendall);
    ``xc``: scratch. Lags innermost (vectorised); each lag still sums over k in order."""
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
    """Tie-corrected Var(S) of n values (Kendall 1975), tsum from ``_tie_sums``."""
    return (n * (n - 1.0) * (2.0 * n + 5.0) - tsum) / 18.0


@njit(cache=True)
def _mk_z_p(s, var):
    """Continuity-corrected Z (0 for S = 0) and two-sided normal p = erfc(|Z| / sqrt(2)); Var > 0."""
    z = 0.0
    if s > 0:
        z = (s - 1.0) / math.sqrt(var)
    elif s < 0:
        z = (s + 1.0) / math.sqrt(var)
    return z, math.erfc(abs(z) / math.sqrt(2.0))


@njit(cache=True)
def _test_stat(correction, yv, tv, m, sl, s, var0, z_acf, ys, w, acf, xc):
    """(S, Var(S)) under ``correction`` of yv[:m] at tv[:m], given the Sen slope ``sl``, the original S
    and Var(S) ``var0``; ``ys``, ``w``, ``acf``, ``xc``: scratch."""
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
        # AR(1) n/n* = 1 + 2 sum_{k=1}^{m-1} (1 - k/m) r1^k (Yue & Wang 2004), term by term (the
        # closed form cancels near r1 = 1)
        acc = 0.0
        p = 1.0
        for k in range(1, m):
            p *= r1
            acc += (1.0 - k / m) * p
        return s, var0 * (1.0 + 2.0 * acc)
    if correction == CORR_TFPW:
        for k2 in range(m - 1):
            ys[k2] = w[k2 + 1] - r1 * w[k2] + sl * tv[k2 + 1]
        si = 0              # S and the tied pairs of the m - 1 pre-whitened values, branch-free
        eq = 0
        for a in range(m - 2):
            ya = ys[a]
            for c in range(a + 1, m - 1):
                d = ys[c] - ya
                si += (d > 0) - (d < 0)
                eq += d == 0
        tsum2 = 0.0
        if eq > 0:  # tie groups only exist where some pair is tied
            ys[:m - 1].sort()
            tsum2, _ = _tie_sums(ys, m - 1)
        return float(si), _mk_var_s(m - 1, tsum2)
    return s, var0


@njit(parallel=True, cache=True, nogil=True)
def sen_mk_kernel(y, t, z_ci, z_acf, min_valid, correction, extra):
    """Per row of y (npix, n) at times t (n,): Theil-Sen slope with rank CI (z_ci = z_{1-alpha/2}),
    Mann-Kendall test under ``correction`` (CORR_*; z_acf: the Hamed-Rao lag filter's z), tau-b.

    ``extra``: (k,) codes of further corrections whose z and p are wanted too (from the shared
    pairwise slopes and S). Returns f (9, npix) float64 = slope, slope_low, slope_high, intercept,
    s, var_s, z, p, tau; n_valid (npix,) int16; reason (npix,) int8; z_extra, p_extra (k, npix).
    """
    npix, n = y.shape
    npairs = n * (n - 1) // 2
    f = np.full((9, npix), np.nan)
    slope, lo_, hi_, icpt, s_out, v_out, z_out, p_out, tau = f
    nval = np.zeros(npix, np.int16)
    reason = np.zeros(npix, np.int8)
    nx = extra.shape[0]
    z_x = np.full((nx, npix), np.nan)
    p_x = np.full((nx, npix), np.nan)
    nblocks = (npix + BLOCK - 1) // BLOCK
    for b in prange(nblocks):
        buf = np.empty(max(npairs, 1))
        yv = np.empty(n)
        tv = np.empty(n)
        ys = np.empty(n)
        w = np.empty(n)
        acf = np.empty(n)
        xc = np.empty(n)
        for i in range(b * BLOCK, min((b + 1) * BLOCK, npix)):
            m, has_inf = compact(y, i, t, yv, tv)
            nval[i] = m
            code = missing_code(m, has_inf, min_valid)
            if code != VALID:
                reason[i] = code
                continue
            # pairwise slopes, S and the number of tied pairs in one branch-free pass
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
                ymed = select(ys, 0, m, m // 2)
                tmed = tv[m // 2]
            else:
                ymed = 0.5 * (select(ys, 0, m, m // 2 - 1) + min_from(ys, m // 2, m))
                tmed = 0.5 * (tv[m // 2 - 1] + tv[m // 2])
            tsum = 0.0
            n1 = 0.0
            if eq > 0:  # ties: group sizes from the sorted values
                ys[:m].sort()
                if ys[0] == ys[m - 1]:  # constant: slope exactly 0, test statistic undefined
                    slope[i] = 0.0
                    lo_[i] = 0.0
                    hi_[i] = 0.0
                    icpt[i] = ymed
                    s_out[i] = 0.0
                    v_out[i] = 0.0
                    reason[i] = CONSTANT
                    continue
                tsum, n1 = _tie_sums(ys, m)
            var0 = _mk_var_s(m, tsum)
            # rank-based CI (Sen 1968; R trend::sens.slope; scipy.stats.theilslopes), 0-based ranks
            cc = z_ci * math.sqrt(var0)
            k_lo = max(int(np.rint((nn - cc) / 2.0)) - 1, 0)
            k_hi = min(int(np.rint((nn + cc) / 2.0)), nn - 1)
            k_m1 = (nn - 1) // 2                # the median is the mean of ranks k_m1 and k_m2
            k_m2 = nn // 2
            # Two partition passes split the slopes at a guessed band around the four ranks (OLS
            # slope +/- 1.4 z_ci SE holds them for ~95% of pixels), so the selections run inside ~100
            # of the 276 slopes (n = 24); a rank outside the band is selected in its outer part.
            p_lo, p_hi = _ols_band(yv, tv, m, 1.4 * z_ci)
            c1 = partition(buf, 0, nn, p_lo, False)
            c2 = partition(buf, c1, nn, p_hi, True)
            # median first (splits its part), then the other ranks inside their (sub)parts
            lo1, hi1 = span(k_m1, c1, c2, nn)
            v_m1 = select(buf, lo1, hi1, k_m1)
            if k_m2 == k_m1:
                v_m2 = v_m1
            elif k_m2 < hi1:
                v_m2 = min_from(buf, k_m2, hi1)
            else:
                v_m2 = min_from(buf, k_m2, span(k_m2, c1, c2, nn)[1])
            if k_lo == k_m1:
                v_lo = v_m1
            elif k_lo >= lo1:
                v_lo = select(buf, lo1, k_m1, k_lo)
            else:
                lo2, hi2 = span(k_lo, c1, c2, nn)
                v_lo = select(buf, lo2, hi2, k_lo)
            if k_hi == k_m1:
                v_hi = v_m1
            elif k_hi < hi1:
                v_hi = select(buf, k_m1 + 1, hi1, k_hi)
            else:
                lo2, hi2 = span(k_hi, c1, c2, nn)
                v_hi = select(buf, lo2, hi2, k_hi)
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
                reason[i] = NEGVAR
                continue
            z_out[i], p_out[i] = _mk_z_p(s_test, var)
    return f, nval, reason, z_x, p_x
