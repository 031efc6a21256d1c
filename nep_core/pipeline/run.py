"""Run the stage table for a config: inputs -> stages (cached) -> results.nc, tables/*.csv, maps/*.tif."""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from .. import grid
from .. import io as nio
from .. import tables as ntables
from ..config import Config, load_config
from ..errors import NepEnvironmentError, NepInputError, warn, write_error
from ..store import enough_space, write_netcdf, write_text
from .cache import STAGE_DIR, Cache, key
from .outputs import ZONAL_TABLES, load_maps, write_maps
from .stages import PIPELINE_VERSION, STAGES, chunks, dask_view
from .timing import Timings, record_timings

REQUIRED_INPUTS = ("npp", "landcover", "stations", "dem")
INPUT_FILES = (*REQUIRED_INPUTS, "boundaries")
TABLE_DIR = "tables"
MAP_DIR = "maps"
OUTPUTS_KEY = ".outputs.key"


@dataclass
class Results:
    """What a run produced.

    ``path`` is ``<out>/results.nc``; ``ds`` the same store (CF attributes, units and variant names
    on every variable); ``tables`` every table written as ``<out>/tables/*.csv``; ``stations`` the
    QC'd, kriging-filled monthly station data with Albers ``x``/``y``; ``truth`` the synthetic
    scenario's planted truth (``trend_slope`` = planted NEP slope), ``None`` on real data;
    ``provinces`` WGS84 shapely outlines; ``timings`` / ``peak_rss`` seconds and peak RSS (bytes)
    per stage of this call; ``stage_timings`` those of the call that computed each stage
    (``<out>/timings.json``).
    """

    path: Path
    ds: xr.Dataset
    tables: dict
    stations: xr.Dataset
    truth: xr.Dataset | None
    provinces: list | None
    config: Config
    timings: dict = field(default_factory=dict)
    peak_rss: dict = field(default_factory=dict)
    stage_timings: pd.DataFrame | None = None
    cache_hits: list = field(default_factory=list)
    cache_misses: list = field(default_factory=list)


def _out_dir(cfg: Config) -> Path:
    """The resolved output directory, made if missing; an error naming it if it is a file or cannot
    be written (tried by creating a file: permission bits say nothing on a read-only mount)."""
    out = Path(cfg.out_dir).expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise NepEnvironmentError(f"out_dir {out} is a file, not a directory; choose another out_dir "
                                  "(nep run --out DIR) or move the file")
    exc = write_error(out)
    if exc is not None:
        raise NepEnvironmentError(f"out_dir {out} cannot be written ({exc.strerror}); choose another "
                                  "out_dir (nep run --out DIR)") from exc
    return out


@contextlib.contextmanager
def _lock(out: Path):
    """One run per output directory at a time (parallel test workers, two terminals). The holder
    writes its pid, host and start time into ``<out>/.lock``; a second run says once whose lock it
    waits for."""
    import fcntl

    with open(out / ".lock", "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "a run that has not yet written its pid"
            warn(f"{out} is in use by another nep run ({holder}); waiting for it to finish")
            fcntl.flock(fh, fcntl.LOCK_EX)
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} on {socket.gethostname()}, started "
                 f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}\n")
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _scheduler(address: str | None, progress: bool):
    """A dask.distributed client at ``address``, else the local threaded scheduler (with a progress
    bar when asked): a context manager."""
    if address:
        from distributed import Client

        try:
            return Client(address, timeout="30s")
        except OSError as exc:
            raise NepInputError(f"cannot connect to the dask scheduler: {exc}", variable="scheduler") from exc
    if progress:
        from dask.diagnostics import ProgressBar

        return ProgressBar(minimum=2.0)
    return contextlib.nullcontext()


def _synthetic():
    """The scenario builder, :mod:`nep_synthetic`: a client of this package (its writers, grid and
    Rh), imported only by a run on the embedded scenario."""
    import nep_synthetic

    return nep_synthetic


def _resolve_inputs(cfg: Config, out: Path):
    """Inputs of this run (the scenario's when none are configured) and the truth file, if any."""
    if cfg.inputs.synthetic:
        sp = _synthetic().build_scenario(out / "scenario", cfg)
        inputs = dataclasses.replace(cfg.inputs, npp=sp.npp_glob, landcover=sp.landcover_glob,
                                     stations=str(sp.stations), station_layout=sp.station_layout,
                                     dem=str(sp.dem), boundaries=str(sp.boundaries))
        return inputs, sp.truth
    missing = [k for k in REQUIRED_INPUTS if getattr(cfg.inputs, k) is None]
    if missing:
        raise NepInputError(f"inputs {', '.join(missing)} not set: give all of {', '.join(REQUIRED_INPUTS)} "
                            "(boundaries optional) or none (the embedded synthetic scenario)",
                            variable=f"inputs.{missing[0]}")
    return cfg.inputs, None


def _store(cfg: Config, a: dict, synthetic_run: bool, inputs) -> xr.Dataset:
    """The results store: the per-pixel stages' Datasets merged, with CF attributes and CRS."""
    parts = [a["static"].ds.load(), a["carbon"].ds, a["climate"].ds[["tmean", "prcp", "rad"]],
             a["stats"].ds, a["classes"].ds, a["attribution"].ds]
    ds = xr.merge(parts, compat="override", combine_attrs="override")
    # in-memory maps in the same chunks as the rest, as lazily sliced views (no copies)
    c = chunks(cfg)
    for name, v in list(ds.data_vars.items()):
        if v.chunks is None and v.dims[-2:] == ("y", "x"):
            ds[name] = v.copy(data=dask_view(v.values, [c.get(d, -1) for d in v.dims]))
    ds.attrs.update({
        "title": "Net ecosystem productivity (NEP = NPP - Rh) of Northwest China and its statistics",
        "Conventions": "CF-1.10",
        "source": f"nep_core {__import__('nep_core').__version__} pipeline v{PIPELINE_VERSION}",
        "synthetic": int(synthetic_run),
        "config": json.dumps(cfg.to_dict(), default=str),
        "inputs": json.dumps({k: getattr(inputs, k) for k in INPUT_FILES}, default=str),
        "years": f"{cfg.first_year}-{cfg.last_year}",
        "crs_proj4": ds.attrs.get("crs_proj4", ""),
    })
    if synthetic_run:
        ds.attrs["note"] = ("SYNTHETIC: built by nep_synthetic on real geography with planted, known "
                            "truth; these numbers are not observations of Northwest China")
    ds = ds.rio.write_crs(grid.CRS_ALBERS).rio.write_transform(grid.grid_transform(ds))
    for v in ds.data_vars.values():
        if v.dims[-2:] == ("y", "x"):
            v.attrs["grid_mapping"] = "spatial_ref"
    return ds


def _load_truth(path) -> xr.Dataset:
    """The planted truth, lazily (at 500 m its annual cubes are ~12 GB); loaded when small."""
    t = xr.open_dataset(path, engine="netcdf4", chunks={})
    if t.nbytes < 2e9:
        t = t.load()
    t["trend_slope"] = t["nep_slope_planted"].assign_attrs(t["nep_slope_planted"].attrs)
    return t


def _tables(res: Results) -> dict:
    """The side tables and every zonal table of ``nep_core.tables`` (written as ``tables/*.csv``)."""
    produced = dict(res.tables)
    for name in ZONAL_TABLES:
        fn = getattr(ntables, name)
        produced[name] = fn(res, null=res.tables["hurst_null"]) if name == "hurst_summary" else fn(res)
    if res.truth is not None:
        produced["truth_recovery"] = ntables.truth_recovery(res)
        produced["attribution_recovery"] = ntables.attribution_recovery(res)
    return produced


def _remove_leftovers(out: Path):
    """Temporaries of a killed run (``.<name>.<random>.tmp`` files and directories, and ``.<name>.old``
    of a directory replaced half way); called under the run lock, so no other run is writing them."""
    for d in (out, out / STAGE_DIR, out / TABLE_DIR, out / MAP_DIR):
        for p in [*d.glob(".*.tmp"), *d.glob(".*.old")]:
            shutil.rmtree(p) if p.is_dir() else p.unlink()


def run(cfg: Config | None = None, progress: bool = False) -> Results:
    """Run (or reuse) every stage of ``STAGES`` for ``cfg`` and return the :class:`Results`.

    Stage artefacts are cached under ``<out>/.stages`` (see ``pipeline.cache``); the user-facing
    outputs (``results.nc``, ``tables/``, ``maps/``) are rewritten when any stage key or the config
    changed, with ``.outputs.key`` removed before and written after all of them.
    """
    cfg = cfg or Config()
    cfg.validate()
    # idle OpenMP workers of the numba kernels wait passively instead of spinning on the cores of
    # the other dask threads; must be set before the first kernel starts OpenMP (an explicit value wins)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    out = _out_dir(cfg)
    T = Timings()
    with _lock(out), _scheduler(cfg.scheduler, progress):
        _remove_leftovers(out)
        T.on_stage = lambda: record_timings(out, T)
        cache = Cache(out, cfg.chunk_xy)
        T.misses = cache.misses
        with T("scenario / inputs"), enough_space("scenario / inputs", out):
            had_scenario = cfg.inputs.synthetic and (out / "scenario" / _synthetic().STAMP).exists()
            inputs, truth_path = _resolve_inputs(cfg, out)
            if truth_path is not None and not had_scenario:
                cache.misses.append("scenario")
            fps = {k: cache.fingerprint(getattr(inputs, k)) for k in INPUT_FILES}
        a, keys = {}, {}
        for st in STAGES:
            keys[st.name] = key(st.name, PIPELINE_VERSION, [keys[n] for n in st.needs],
                                [fps[f] for f in st.files], st.params(cfg))
            with T(st.label):
                a[st.name] = cache.get(st.name, keys[st.name],
                                       lambda st=st: st.compute(cfg, inputs, {n: a[n] for n in st.needs}))
        tables = {n: t for art in a.values() for n, t in art.tables.items()}
        truth = _load_truth(truth_path) if truth_path is not None else None
        faults = Path(truth_path).parent / "station_faults.csv" if truth_path is not None else None
        if faults is not None and faults.exists():
            tables["station_faults"] = pd.read_csv(faults, dtype={"station": str, "date": str})
        store = _store(cfg, a, truth_path is not None, inputs)
        outlines = nio.read_boundaries(inputs.boundaries or grid.data_path(grid.DEFAULT_BOUNDARIES))
        res = Results(path=out / "results.nc", ds=store, tables=tables,
                      stations=a["climate"].side["stations"], truth=truth,
                      provinces=[b.geometry for b in outlines], config=cfg, timings=T.stages,
                      cache_hits=cache.hits, cache_misses=cache.misses)
        k_out = key("outputs", PIPELINE_VERSION, keys, {k: v for k, v in cfg.to_dict().items()
                                                         if k not in ("out_dir", "scheduler", "inputs")})
        stamp = out / OUTPUTS_KEY
        fresh = not (stamp.exists() and stamp.read_text() == k_out and res.path.exists()
                     and (out / TABLE_DIR).is_dir() and (out / MAP_DIR).is_dir())
        if fresh:
            stamp.unlink(missing_ok=True)     # outputs change from here on: no key until all are written
            with T("write results.nc"), enough_space("write results.nc", out, store.nbytes):
                cache.misses.append("results")
                write_netcdf(store, res.path, chunks={"y": cfg.chunk_xy, "x": cfg.chunk_xy})
        else:
            cache.hits.append("results")
        with T("tables + maps"), enough_space("tables + maps", out):
            res.ds = load_maps(store)
            res.tables = _tables(res)
            if fresh:
                cache.misses.append("outputs")
                for name, df in res.tables.items():
                    write_text(df.to_csv(), out / TABLE_DIR / f"{name}.csv")
                write_maps(res.ds, out / MAP_DIR)
                write_text(k_out, stamp)
        res.stage_timings = record_timings(out, T)
    res.timings = dict(T.stages)
    res.peak_rss = dict(T.peak_rss)
    return res


def scenario(cfg: Config | None = None) -> Path:
    """Build (or reuse) the synthetic scenario of ``cfg`` and return its directory."""
    cfg = cfg or Config()
    out = _out_dir(cfg)
    with _lock(out):
        return _synthetic().build_scenario(out / "scenario", cfg).root


_RESULTS: dict = {}


def results(config: Config | str | os.PathLike | None = None) -> Results:
    """The results of ``config`` for chapters and notebooks, computed once per process.

    ``config`` may be a Config, a TOML/YAML path, or None: then the file named by the environment
    variable ``NEP_CONFIG`` (how ``NEP_CONFIG=nep.toml quarto render`` points the book at real
    data), else the embedded default. A relative ``out_dir`` is taken relative to the working
    directory (the project root when the book is built).
    """
    if config is None:
        config = os.environ.get("NEP_CONFIG") or None
    cfg = config if isinstance(config, Config) else load_config(config)
    k = cfg.fingerprint() + str(Path(cfg.out_dir).expanduser().resolve())
    if k not in _RESULTS:
        _RESULTS[k] = run(cfg, progress=False)
    return _RESULTS[k]
