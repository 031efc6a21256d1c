"""nep_core: vegetation net ecosystem productivity (NEP = NPP - Rh) and its per-pixel statistics.

The public API (trend, significance, stability, persistence, partial correlation, Rh) is importable
from the top level; stage modules (io, grid, climate, pipeline, figures, ...) are imported by name.
"""
from .carbon import annual_rh, nep, rh_pei
from .config import Config, load_config
from .errors import NepConfigError, NepInputError

__version__ = "0.1.0"

__all__ = [
    "Config", "load_config", "NepInputError", "NepConfigError",
    "rh_pei", "annual_rh", "nep",
]
