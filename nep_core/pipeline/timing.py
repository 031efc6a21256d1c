"""Wall time and peak resident memory of each stage, and ``<out>/timings.json``."""
from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..store import write_text

TIMINGS_FILE = "timings.json"


def _rss_bytes() -> int:
    """Resident set size of this process (Linux /proc; 0 where unavailable)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class _PeakSampler(threading.Thread):
    """Samples this process's RSS every 0.1 s until ``stop`` is set; ``peak`` in bytes."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak = _rss_bytes()
        self.stop = threading.Event()

    def run(self):
        while not self.stop.wait(0.1):
            self.peak = max(self.peak, _rss_bytes())


@dataclass
class Timings:
    """Wall time (s) and peak resident memory (bytes, this process) of each named stage."""

    stages: dict = field(default_factory=dict)
    peak_rss: dict = field(default_factory=dict)
    misses: list = field(default_factory=list)      # the cache's miss list, to know what was computed
    computed: set = field(default_factory=set)
    finished: dict = field(default_factory=dict)    # stage -> local time it ended (ISO 8601)
    on_stage: object = None     # called after each completed stage (records timings.json as it goes)

    @contextlib.contextmanager
    def __call__(self, name: str):
        t0 = time.perf_counter()
        n0 = len(self.misses)
        mem = _PeakSampler()
        mem.start()
        try:
            yield
        finally:
            self.stages[name] = self.stages.get(name, 0.0) + time.perf_counter() - t0
            mem.stop.set()
            mem.join()
        self.peak_rss[name] = max(self.peak_rss.get(name, 0), mem.peak, _rss_bytes())
        self.finished[name] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        # glibc keeps the dask threads' freed blocks in its heaps; without a trim one stage's
        # garbage stayed resident into the next (a no-op without glibc)
        gc.collect()
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        if len(self.misses) > n0:
            self.computed.add(name)
        if self.on_stage is not None:
            self.on_stage()


def format_timings(timings: dict, peak_rss: dict | None = None) -> str:
    """A plain-text table of seconds (and peak RSS in GB, when given) per stage."""
    peak_rss = peak_rss or {}
    width = max([len(k) for k in timings] + [5])
    lines = [f"{'stage':<{width}}  seconds" + ("  peak RSS (GB)" if peak_rss else "")]
    for k, v in timings.items():
        mem = f"  {peak_rss[k] / 1e9:14.2f}" if k in peak_rss else ""
        lines.append(f"{k:<{width}}  {v:7.2f}{mem}")
    total_mem = f"  {max(peak_rss.values()) / 1e9:14.2f}" if peak_rss else ""
    lines.append(f"{'total':<{width}}  {sum(timings.values()):7.2f}{total_mem}")
    return "\n".join(lines)


def record_timings(out: Path, T: Timings) -> pd.DataFrame:
    """Merge this call's computed stages into ``<out>/timings.json`` and return the table.

    A stage reused from the cache keeps the time and memory of the run that computed it, so the
    table describes the cost of the results, not of the last (cached) call.
    """
    path = out / TIMINGS_FILE
    try:
        saved = json.loads(path.read_text()) if path.exists() else {}
    except json.JSONDecodeError:
        saved = {}
    for name, sec in T.stages.items():
        if name in T.computed or name not in saved:
            saved[name] = {"seconds": round(sec, 3), "peak_rss_gb": round(T.peak_rss.get(name, 0) / 1e9, 3),
                           "computed": name in T.computed, "at": T.finished[name]}
    write_text(json.dumps(saved, indent=1), path)
    rows = {name: saved[name] for name in T.stages}
    df = pd.DataFrame(rows).T[["seconds", "peak_rss_gb", "computed", "at"]]
    df.columns = ["seconds when computed (s)", "peak RSS when computed (GB)", "computed in that call", "at"]
    df.insert(1, "seconds this call (s)", pd.Series(T.stages).round(3))
    df.index.name = "stage"
    return df
