"""nep_core: vegetation net ecosystem productivity (NEP = NPP - Rh) and its per-pixel statistics.

The public API (trend, significance, stability, persistence, partial correlation, Rh) is importable
from the top level; stage modules (io, grid, climate, pipeline, figures, ...) are imported by name.
"""
from . import _numba_cache  # noqa: F401  (NUMBA_CACHE_DIR, before numba is imported)
from .carbon import annual_rh, nep, rh_pei
from .config import Config, load_config
from .errors import NepConfigError, NepInputError
from .classify import (NEP_CLASSES, PERSISTENCE_CLASSES, TREND_CLASSES, classify_breaks, nep_class,
                       natural_breaks, persistence_class, trend_class)
from .stats import cv, fdr, hurst_null_quantiles, hurst_rs, partial_corr, per_year, sen_mk

__version__ = "0.1.0"
