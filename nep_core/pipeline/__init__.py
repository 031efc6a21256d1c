"""Orchestration: the stage table (``stages``), its cache (``cache``), and ``run`` / ``results``.

inputs -> grid + DEM -> climate + Rh -> NPP + NEP + land cover -> per-pixel statistics -> Hurst null
-> classes + FDR -> Rh sensitivity -> results.nc, tables/*.csv, maps/*.tif. Arrays flow lazily through
dask, chunked in space (``Config.chunk_xy``) and never in time; ``Config.scheduler`` sends the work to
a dask.distributed cluster.
"""
from .cache import STAGE_DIR
from .run import Results, results, run, scenario
from .stages import STAGES
from .timing import TIMINGS_FILE, format_timings

__all__ = ["run", "results", "scenario", "Results", "STAGES", "STAGE_DIR", "TIMINGS_FILE", "format_timings"]
