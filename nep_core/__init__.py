"""nep_core: vegetation net ecosystem productivity (NEP = NPP - Rh) and its per-pixel statistics.

The public API (trend, significance, stability, persistence, partial correlation, Rh) is importable
from the top level; stage modules (io, grid, climate, pipeline, figures, ...) are imported by name.
"""
import os as _os

# OpenMP workers of the numba kernels wait passively between kernels instead of spinning: the
# pipeline runs one kernel per dask thread, and spinning teams took the cores from the other
# threads (500 m statistics stage: 91 s spinning, 55 s passive). Only a default: an explicit
# OMP_WAIT_POLICY wins, and it has no effect if OpenMP was already started in this process.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .carbon import annual_rh, nep, rh_pei  # noqa: E402
from .config import Config, load_config  # noqa: E402
from .errors import NepConfigError, NepInputError
from .classify import (NEP_CLASSES, PERSISTENCE_CLASSES, TREND_CLASSES, classify_breaks, nep_class,
                       natural_breaks, persistence_class, trend_class)
from .stats import cv, fdr, hurst_null_quantiles, hurst_rs, partial_corr, per_year, sen_mk

__version__ = "0.1.0"

__all__ = [
    "Config", "load_config", "NepInputError", "NepConfigError",
    "rh_pei", "annual_rh", "nep",
    "sen_mk", "fdr", "cv", "hurst_rs", "hurst_null_quantiles", "partial_corr", "per_year",
    "trend_class", "nep_class", "natural_breaks", "classify_breaks", "persistence_class",
    "TREND_CLASSES", "NEP_CLASSES", "PERSISTENCE_CLASSES",
]
