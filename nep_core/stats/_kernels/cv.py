"""Coefficient of variation (SD / mean) per row."""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .common import NONPOSITIVE_MEAN, VALID, missing_code


@njit(parallel=True, cache=True, nogil=True)
def cv_kernel(y, ddof, min_mean, min_valid):
    """Cv = SD(ddof) / mean over the finite values of each row of y (npix, n); NaN with reason
    NONPOSITIVE_MEAN where mean <= max(min_mean, 0). Returns cv (npix,) float64, reason (npix,) int8."""
    npix, n = y.shape
    cv = np.full(npix, np.nan)
    reason = np.zeros(npix, np.int8)
    thr = min_mean if min_mean > 0.0 else 0.0
    for i in prange(npix):
        # counts and sums in one pass (faster than compact)
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
        code = missing_code(m, has_inf, max(min_valid, ddof + 1))   # the SD needs m - ddof >= 1
        if code != VALID:
            reason[i] = code
            continue
        mean = s1 / m
        if not (mean > thr):
            reason[i] = NONPOSITIVE_MEAN
            continue
        s2 = 0.0
        for j in range(n):
            v = y[i, j]
            if not math.isnan(v):
                s2 += (v - mean) ** 2
        cv[i] = math.sqrt(s2 / (m - ddof)) / mean
    return cv, reason

