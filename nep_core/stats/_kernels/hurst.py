"""Hurst exponent by rescaled-range (R/S) analysis per row: 'prefix', 'diff' and the block-averaged
Anis-Lloyd-Peters variant of nolds."""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .common import BLOCK, CONSTANT, VALID, compact, missing_code, ols

HURST_PREFIX, HURST_DIFF, HURST_ALP = 0, 1, 2


@njit(cache=True)
def _rs_prefix(x, L, xs, ys, acc, logt):
    """H = OLS slope of log(R/S) on log(tau) over prefixes tau = 2..L (population SD); NaN if < 2
    points. ``acc``: (5, >= L+1) scratch; ``logt[tau]`` = log(tau). The loop over tau is innermost
    (vectorised); each tau's sums still run over q in order (as one prefix at a time)."""
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
    return ols(xs, ys, k)[0]


@njit(cache=True)
def _logmid_n(L, out):
    """nolds.logmid_n(L, ratio=1/4, nsteps=15) into ``out``; returns the count."""
    ratio = 0.25
    nsteps = 15
    ll = math.log(L)
    span = ll * ratio
    start = ll * (1.0 - ratio) * 0.5
    k = 0
    for q in range(nsteps):
        v = int(np.rint(math.exp(start + q / nsteps * span)))
        if k == 0 or v != out[k - 1]:     # non-decreasing in q: unique = differs from the last
            out[k] = v
            k += 1
    return k


@njit(cache=True)
def _rs_alp(x, L, nv, nk, log_ers, xs, ys, logt):
    """nolds-style H: OLS slope of log(mean R/S over the L // n leading blocks; SD ddof=1, zero-range
    blocks skipped) - log_ers[n] on log n over the block sizes n in nv[:nk], + 0.5."""
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
                cmax = max(cmax, cum)
                cmin = min(cmin, cum)
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
    return ols(xs, ys, k)[0] + 0.5


@njit(parallel=True, cache=True, nogil=True)
def hurst_kernel(y, methods, min_valid, nvals, log_ers):
    """Hurst exponent by R/S of each row of y (npix, n), for each of the k ``methods`` (HURST_*).

    ``nvals``: ALP block sizes (empty: nolds' ``logmid_n`` of each pixel's valid length);
    ``log_ers[n]``: log Anis-Lloyd-Peters E[R/S]_n. Missing years are dropped, the valid values
    treated as consecutive. Returns h (k, npix) float64 and reason (k, npix) int8."""
    npix, n = y.shape
    nm = methods.shape[0]
    h = np.full((nm, npix), np.nan)
    reason = np.zeros((nm, npix), np.int8)
    t = np.zeros(n)
    logt = np.zeros(n + 1)
    for tau in range(1, n + 1):
        logt[tau] = math.log(tau)
    # ALP block sizes per series length L: a table, not 15 exp() per pixel
    nv_tab = np.zeros((n + 1, max(16, nvals.shape[0])), np.int64)
    nk_tab = np.zeros(n + 1, np.int64)
    for L in range(1, n + 1):
        if nvals.shape[0] > 0:
            nk_tab[L] = nvals.shape[0]
            nv_tab[L, :nvals.shape[0]] = nvals
        else:
            nk_tab[L] = _logmid_n(L, nv_tab[L])
    nblocks = (npix + BLOCK - 1) // BLOCK
    for b in prange(nblocks):
        yv = np.empty(n)
        tv = np.empty(n)
        dv = np.empty(n)
        xs = np.empty(n + 16)
        ys = np.empty(n + 16)
        acc = np.empty((5, n + 1))
        for i in range(b * BLOCK, min((b + 1) * BLOCK, npix)):
            m, has_inf = compact(y, i, t, yv, tv)
            code = missing_code(m, has_inf, min_valid)
            if code == VALID and yv[:m].min() == yv[:m].max():
                code = CONSTANT
            if code != VALID:
                reason[:, i] = code
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
                    reason[q, i] = CONSTANT
                h[q, i] = val
    return h, reason
