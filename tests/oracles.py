"""Plain per-pixel reference implementations (one series at a time, no numba) that the fast kernels
are tested against; the benchmark (benchmarks/report.py) times the same loops as per-pixel peers."""
from __future__ import annotations

import numpy as np


def hurst_prefix(x) -> float:
    """Hurst exponent of one series by the METHODS section 4 R/S 'prefix' estimator, transcribed
    directly: for every prefix length tau = 2..n, log(R/S) of the first tau values (R from the
    cumulated deviations including 0, S the population SD), then the least-squares slope on log(tau)."""
    lt, lrs = [], []
    for tau in range(2, len(x) + 1):
        v = x[:tau]
        dev = np.cumsum(v - v.mean())
        r, s = dev.max() - min(dev.min(), 0.0), v.std()
        if r > 0 and s > 0:
            lt.append(np.log(tau))
            lrs.append(np.log(r / s))
    return np.polyfit(lt, lrs, 1)[0]
