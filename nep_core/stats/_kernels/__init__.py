"""Private per-pixel kernels: plain arrays in, plain arrays out, time on the LAST axis, no xarray.

Every kernel takes a 2-D array ``y`` of shape ``(npix, n)`` (float32 or float64; any memory layout,
e.g. the Fortran-ordered view of a block stored time-first) and returns 1-D arrays of length
``npix``. Pixels are processed in parallel blocks (``numba.prange``); each block allocates its
scratch buffers once, so memory is ``O(n_threads * n^2)`` and never ``O(npix * n^2)`` (the
pairwise-slope array of the whole map is never materialised).

The parallel kernels release the GIL. Inside dask tasks (``single_thread()``) they run on one
thread each: the blocks are the parallelism, and a kernel's OpenMP team beside another block's
oversubscribes the cores. ``nep_core`` also asks OpenMP for passive waiting (its idle workers
otherwise spin for a while after each kernel and take the other tasks' cores).

Missing-data policy (shared by all kernels): NaN years are dropped per pixel (the remaining values
keep their true time positions where a kernel uses time); any +/-inf makes the pixel NaN with
reason ``NON_FINITE_INPUT``; fewer than ``min_valid`` finite values gives ``TOO_FEW_VALID``
(``ALL_NAN`` when there are none); all finite values identical gives ``CONSTANT``.

Modules: ``common`` (reason codes, compaction and the missing-data screen, quickselect, least
squares, ``single_thread``); one per statistic: ``trend`` (Theil-Sen + Mann-Kendall), ``cv``,
``hurst`` (R/S), ``pcorr`` (partial correlation, Student t tail). The wrappers in
``nep_core.stats`` use what is imported here, as ``K.<name>``.

numba's on-disk cache (``cache=True``) checks only the file that defines a kernel: after editing
``common.py``, delete this package's ``__pycache__`` (the kernels of the other modules hold the
compiled helpers and would otherwise load the old ones).
"""
from .common import single_thread
from .cv import cv_kernel
from .hurst import HURST_ALP, HURST_DIFF, HURST_PREFIX, hurst_kernel
from .pcorr import partial_corr_kernel
from .trend import CORR_HAMED_RAO, CORR_NONE, CORR_TFPW, CORR_YUE_WANG, sen_mk_kernel

__all__ = ["CORR_HAMED_RAO", "CORR_NONE", "CORR_TFPW", "CORR_YUE_WANG", "HURST_ALP", "HURST_DIFF",
           "HURST_PREFIX", "cv_kernel", "hurst_kernel", "partial_corr_kernel", "sen_mk_kernel",
           "single_thread"]
