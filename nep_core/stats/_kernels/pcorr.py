"""Partial correlation per row (inverse of the correlation matrix) and its Student t p-value."""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .common import ALL_NAN, BLOCK, CONSTANT, NOCOV, NONFINITE, TOO_FEW


@njit(cache=True, inline="always")
def _t_ratio(j, odd):
    """Coefficient j+1 over coefficient j of the series in ``t_two_sided_p`` (b_j odd, a_j even)."""
    return (2.0 * j + 2.0) / (2.0 * j + 3.0) if odd else (2.0 * j + 1.0) / (2.0 * j + 2.0)


@njit(cache=True)
def t_two_sided_p(tabs, nu):
    """P(|T| >= tabs) for Student's t with integer ``nu`` >= 1 degrees of freedom.

    Closed forms of Abramowitz & Stegun 26.7.3-4 (x = nu / (nu + t^2) = cos^2(theta), theta =
    atan(t / sqrt(nu))): 1 - the finite series where that is >= 0.05, else the series' tail summed
    directly (no cancellation). Agrees with scipy.special.stdtr to ~1e-13 relative (tests)."""
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
    # small p: sum the tail j >= J (c is its first term; positive terms, ratio < x)
    tot = 0.0
    j = J
    while c > 1e-17 * tot:
        tot += c
        c *= x * _t_ratio(j, odd)
        j += 1
    return (2.0 / math.pi) * sn * cs * tot if odd else sn * tot


@njit(parallel=True, cache=True, nogil=True)
def partial_corr_kernel(xs, min_valid):
    """Partial correlation of variable 0 with each variable j >= 1 of the tuple ``xs`` of nvar
    (npix, n) arrays of one type, controlling for all others (variant: ``stats.partial_corr``;
    P = inverse correlation matrix by Gauss-Jordan with partial pivoting; r clipped to [-1, 1];
    p = 0 where |r| = 1). Returns r, p (npix, nvar-1) float64, n_valid int16, reason int8."""
    nvar = len(xs)
    npix, n = xs[0].shape
    r_out = np.full((npix, nvar - 1), np.nan)
    p_out = np.full((npix, nvar - 1), np.nan)
    nval = np.zeros(npix, np.int16)
    reason = np.zeros(npix, np.int8)
    nblocks = (npix + BLOCK - 1) // BLOCK
    for b in prange(nblocks):
        z = np.empty((nvar, n))
        c = np.empty((nvar, 2 * nvar))
        keep = np.empty(n, np.bool_)
        x = np.empty((nvar, n))      # this pixel's values (float32 -> float64 is exact)
        for i in range(b * BLOCK, min((b + 1) * BLOCK, npix)):
            has_inf = False
            tgt_any = False
            drv_missing = False
            for v in range(nvar):
                a = xs[v]
                anyv = False
                for j in range(n):
                    val = a[i, j]
                    x[v, j] = val
                    if math.isinf(val):
                        has_inf = True
                    elif not math.isnan(val):
                        anyv = True
                if v == 0:
                    tgt_any = anyv
                elif not anyv:
                    drv_missing = True
            if has_inf:
                reason[i] = NONFINITE
                continue
            if not tgt_any:
                reason[i] = ALL_NAN
                continue
            if drv_missing:
                reason[i] = NOCOV
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
                reason[i] = TOO_FEW
                continue
            const = False
            for v in range(nvar):
                k = 0
                mean = 0.0
                for j in range(n):
                    if keep[j]:
                        z[v, k] = x[v, j]
                        mean += x[v, j]
                        k += 1
                if z[v, :m].min() == z[v, :m].max():
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
                reason[i] = CONSTANT
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
                reason[i] = CONSTANT
                continue
            bad = False
            for v in range(nvar):
                if not (c[v, nvar + v] > 0.0):
                    bad = True
            if bad:  # an inverse correlation matrix has a positive diagonal: numerically singular
                reason[i] = CONSTANT
                continue
            for v in range(1, nvar):
                r = min(max(-c[0, nvar + v] / math.sqrt(c[0, nvar] * c[v, nvar + v]), -1.0), 1.0)
                r_out[i, v - 1] = r
                df = m - nvar
                if df >= 1:
                    r2 = r * r
                    p_out[i, v - 1] = (0.0 if r2 >= 1.0
                                       else t_two_sided_p(abs(r) * math.sqrt(df / (1.0 - r2)), df))
    return r_out, p_out, nval, reason
