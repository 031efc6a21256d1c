"""Private per-pixel kernels: a 2-D ``y`` of shape ``(npix, n)`` in (float32 or float64, any memory
layout), 1-D arrays of length ``npix`` out; no xarray. Used by the wrappers as ``K.<name>``.

Pixels run in parallel blocks (``numba.prange``), each allocating its scratch once: memory is
``O(n_threads * n^2)``, never ``O(npix * n^2)``. Inside dask tasks the kernels run on one thread
(``single_thread``): the blocks are the parallelism.

Missing data (all kernels): NaN years are dropped per pixel (the others keep their time positions);
any +/-inf -> NaN with reason ``NON_FINITE_INPUT``; fewer than ``min_valid`` finite values ->
``TOO_FEW_VALID`` (``ALL_NAN`` if none); all finite values equal -> ``CONSTANT``.

numba's cache (``cache=True``) checks only the defining file: after editing ``common.py`` delete
this package's ``__pycache__`` (the other modules hold compiled copies of its helpers).
"""
from .common import single_thread
from .cv import cv_kernel
from .hurst import HURST_ALP, HURST_DIFF, HURST_PREFIX, hurst_kernel
from .pcorr import partial_corr_kernel
from .trend import CORR_HAMED_RAO, CORR_NONE, CORR_TFPW, CORR_YUE_WANG, sen_mk_kernel
