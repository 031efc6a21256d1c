"""What the kernels share: int8 reason codes, the parallel block size, the missing-data screen,
quickselect, least squares, ``single_thread``."""
from __future__ import annotations

import contextlib
import math

import numpy as np
from numba import njit

from ... import reasons as R

VALID = np.int8(R.VALID)
ALL_NAN = np.int8(R.ALL_NAN)
TOO_FEW = np.int8(R.TOO_FEW_VALID)
CONSTANT = np.int8(R.CONSTANT)
NONFINITE = np.int8(R.NON_FINITE_INPUT)
NEGVAR = np.int8(R.NEGATIVE_VARIANCE)
NOCOV = np.int8(R.NO_COVARIATE)
NONPOSITIVE_MEAN = np.int8(R.NONPOSITIVE_MEAN)

BLOCK = 256  # pixels per parallel work item


@njit(cache=True, inline="always")
def compact(y, i, t, yv, tv):
    """Copy the finite values of row ``i`` and their times to ``yv``/``tv``; return (m, has_inf)."""
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
def missing_code(m, has_inf, min_valid):
    """Reason code of a pixel with ``m`` finite values under the missing-data policy (package doc)."""
    if has_inf:
        return NONFINITE
    if m == 0:
        return ALL_NAN
    if m < min_valid:
        return TOO_FEW
    return VALID


@njit(cache=True)
def partition(a, lo, hi, p, inclusive):
    """Reorder ``a[lo:hi]`` so that the elements < p (<= p if ``inclusive``) come first; return the
    index where the others start. Branch-free Lomuto pass (unconditional swap)."""
    store = lo
    for j in range(lo, hi):
        v = a[j]
        a[j] = a[store]
        a[store] = v
        store += (v <= p) if inclusive else (v < p)
    return store


@njit(cache=True)
def select(a, lo, hi, k):
    """Quickselect: reorder ``a[lo:hi]`` so that ``a[lo:k]`` <= ``a[k]`` <= ``a[k+1:hi]``; return
    ``a[k]``. Median-of-three pivot; elements equal to the pivot are split off in a second pass, so
    heavily tied input stays linear."""
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
        store = partition(a, lo, hi - 1, pivot, False)
        a[hi - 1] = a[store]
        a[store] = pivot
        if k == store:
            return pivot
        if k < store:
            hi = store
        else:       # a[store + 1:hi] >= pivot: split off the elements equal to it
            lo = partition(a, store + 1, hi, pivot, True)
            if k < lo:
                return pivot
    return a[k]


@njit(cache=True, inline="always")
def span(k, c1, c2, nn):
    """The part [lo, hi) of [0, c1) | [c1, c2) | [c2, nn) holding index k."""
    if k < c1:
        return 0, c1
    if k < c2:
        return c1, c2
    return c2, nn


@njit(cache=True)
def min_from(a, lo, hi):
    v = a[lo]
    for j in range(lo + 1, hi):
        if a[j] < v:
            v = a[j]
    return v


@njit(cache=True)
def ols(xs, ys, k):
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
