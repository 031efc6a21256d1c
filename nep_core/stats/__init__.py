"""Per-pixel statistics of annual series: public xarray wrappers over private numba kernels
(``nep_core.stats._kernels``).

Every wrapper takes an ``xarray.DataArray`` (numpy- or dask-backed) with a time dimension ``dim``
(default ``"year"``) and returns an ``xarray.Dataset`` over the other dims whose variables carry
``units`` and a ``description`` naming the exact variant (also in each function's docstring), plus a
``reason`` variable (int8 codes of ``nep_core.reasons``) for every pixel without a value.
"""
from ._common import per_year
from .hurst import HURST_DESCRIPTIONS, HURST_METHODS, hurst_null_quantiles, hurst_rs
from .pcorr import partial_corr
from .summary import hurst_null_table, per_pixel_statistics
from .trend import CORRECTIONS, sen_mk
from .variability import cv, fdr
