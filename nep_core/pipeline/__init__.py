"""Orchestration: the stage table (``stages.STAGES``, in run order), its cache (``cache``), ``run`` /
``results``, and what a run writes besides the stage stores (``outputs``, ``timing``). Arrays flow
lazily through dask, chunked in space (``Config.chunk_xy``), never in time; ``Config.scheduler``
sends the work to a dask.distributed cluster.
"""
from .cache import STAGE_DIR
from .run import Results, results, run, scenario
from .stages import STAGES
from .timing import TIMINGS_FILE, format_timings

__all__ = ["run", "results", "scenario", "Results", "STAGES", "STAGE_DIR", "TIMINGS_FILE", "format_timings"]
