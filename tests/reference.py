"""Plain-numpy reference of the Theil-Sen slope and the Mann-Kendall test (no numba, no correction).

The textbook formulas for one series, written independently of ``nep_core.stats._kernels``: the fast
kernels must match them (tests/test_stats_trend.py). NaN = missing year, dropped with its time.
"""
from __future__ import annotations

import numpy as np
from scipy.stats import norm


def sen_mk_reference(y, t) -> dict:
    """Sen slope, Mann-Kendall S, tie-corrected Var(S), continuity-corrected Z and two-sided p."""
    y, t = np.asarray(y, float), np.asarray(t, float)
    ok = ~np.isnan(y)
    y, t = y[ok], t[ok]
    n = y.size
    i, j = np.triu_indices(n, 1)
    slope = float(np.median((y[j] - y[i]) / (t[j] - t[i])))
    s = float(np.sign(y[j] - y[i]).sum())
    _, ties = np.unique(y, return_counts=True)
    var_s = (n * (n - 1) * (2 * n + 5) - np.sum(ties * (ties - 1) * (2 * ties + 5))) / 18
    if var_s > 0:
        z = (s - np.sign(s)) / np.sqrt(var_s)
        p = 2 * norm.sf(abs(z))
    else:                               # constant series: the test is undefined
        z = p = np.nan
    return {"slope": slope, "s": s, "var_s": float(var_s), "z": float(z), "p": float(p), "n_valid": n}
