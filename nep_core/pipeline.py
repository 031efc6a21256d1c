"""Orchestration: inputs -> grid -> climate -> carbon -> statistics -> classes -> zonal tables -> store.

Every stage is cached on disk under ``<out_dir>/.stages/<stage>-<key>.nc`` where ``key`` hashes the
parameters the stage depends on, the keys of the stages it reads, and the size/mtime of its input
files. A rerun with unchanged inputs and parameters reuses finished stages; a changed parameter
recomputes what depends on it. Every file is written atomically, so an interrupted run never leaves a
half-written stage that a rerun would take as finished.

Arrays flow lazily through dask, chunked in space (``Config.chunk_xy``) and never in time, so memory is
bounded by the chunk size, not by the number of pixels. ``Config.scheduler`` (``nep run --scheduler``)
sends the work to a dask.distributed cluster.
"""
from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ._atomic import _local_scheduler, atomic_path, open_netcdf, write_netcdf
from .config import Config
from .errors import NepInputError

STAGE_DIR = ".stages"


# --------------------------------------------------------------------------------------- helpers
def _files_fingerprint(pattern: str | None) -> list:
    """(name, size, mtime_ns) of every file a path or glob names; a missing input is an error."""
    if pattern is None:
        return []
    paths = sorted(glob.glob(os.path.expanduser(str(pattern))))
    if not paths:
        raise NepInputError("no file matches this path or pattern", file=pattern)
    out = []
    for p in paths:
        st = os.stat(p)
        out.append((os.path.basename(p), st.st_size, st.st_mtime_ns))
    return out


def _key(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _rss_bytes() -> int:
    """Resident set size of this process (Linux /proc; 0 where unavailable)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _release_memory():
    """Collect garbage and hand freed heap pages back to the OS (glibc ``malloc_trim``).

    The dask threads free many 6-75 MB blocks; glibc keeps such frees in its heaps (its mmap
    threshold adapts upwards to 32 MB), so without a trim one stage's freed blocks stayed resident
    into the next: the 500 m tables stage peaked at 10.9 GB after the other stages and at 7.7 GB on
    its own. A no-op where glibc is absent.
    """
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class _PeakSampler:
    """Samples this process's RSS every ``interval`` seconds in a daemon thread; ``peak`` in bytes."""

    def __init__(self, interval: float = 0.1):
        import threading

        self.peak = _rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)

    def _run(self, interval):
        while not self._stop.wait(interval):
            self.peak = max(self.peak, _rss_bytes())

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
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
        with _PeakSampler() as mem:
            try:
                yield
            finally:
                self.stages[name] = self.stages.get(name, 0.0) + time.perf_counter() - t0
        self.peak_rss[name] = max(self.peak_rss.get(name, 0), mem.peak)
        self.finished[name] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        _release_memory()
        if len(self.misses) > n0:
            self.computed.add(name)
        if self.on_stage is not None:
            self.on_stage()


def format_timings(timings: dict, peak_rss: dict | None = None) -> str:
    """A plain-text table of seconds (and peak RSS in GB, when given) per stage."""
    peak_rss = peak_rss or {}
    width = max([len(k) for k in timings] + [5])
    head = f"{'stage':<{width}}  seconds" + ("  peak RSS (GB)" if peak_rss else "")
    lines = [head]
    for k, v in timings.items():
        mem = f"  {peak_rss[k] / 1e9:14.2f}" if k in peak_rss else ""
        lines.append(f"{k:<{width}}  {v:7.2f}{mem}")
    total_mem = f"  {max(peak_rss.values()) / 1e9:14.2f}" if peak_rss else ""
    lines.append(f"{'total':<{width}}  {sum(timings.values()):7.2f}{total_mem}")
    return "\n".join(lines)


class _Cache:
    """Stage files under ``out_dir/.stages``; old keys of a stage are removed once a new one lands."""

    def __init__(self, out_dir: Path):
        self.dir = Path(out_dir) / STAGE_DIR
        self.dir.mkdir(parents=True, exist_ok=True)
        self.hits: list[str] = []
        self.misses: list[str] = []

    def path(self, stage: str, key: str, suffix: str = ".nc") -> Path:
        return self.dir / f"{stage}-{key}{suffix}"

    def netcdf(self, stage: str, key: str, compute, chunks=None, store_chunks=None) -> xr.Dataset:
        """The stage file of ``stage`` under ``key`` (computed and written if absent), opened with
        dask ``chunks``; ``store_chunks`` is the stored chunk shape (default: the dask blocks)."""
        path = self.path(stage, key)
        if not path.exists():
            self.misses.append(stage)
            ds = compute()
            write_netcdf(ds, path, chunks=store_chunks)
            self._prune(stage, path)
        else:
            self.hits.append(stage)
        return open_netcdf(path, chunks=chunks)

    def _prune(self, stage: str, keep: Path):
        for old in self.dir.glob(f"{stage}-{'?' * 16}{keep.suffix}"):
            if old != keep:
                with contextlib.suppress(FileNotFoundError):
                    old.unlink()


@contextlib.contextmanager
def _scheduler(address: str | None, progress: bool):
    """Local threaded scheduler (default) or a dask.distributed client at ``address``."""
    if address:
        from distributed import Client

        try:
            client = Client(address, timeout="30s")
        except OSError as exc:
            raise NepInputError(f"cannot connect to the dask scheduler: {exc}", variable="scheduler") from exc
        try:
            yield client
        finally:
            client.close()
    else:
        if progress:
            from dask.diagnostics import ProgressBar

            with ProgressBar(minimum=2.0):
                yield None
        else:
            yield None


# --------------------------------------------------------------------------------------- statistics
CORRECTIONS = ("hamed_rao", "yue_wang", "tfpw")
HURST_METHODS = ("prefix", "diff", "alp")
DRIVERS = ("tmean", "prcp", "rad")


def per_pixel_statistics(annual: xr.Dataset, cfg: Config) -> xr.Dataset:
    """Every per-pixel statistic of NEP (lazy): trend (+ corrected variants), Cv, Hurst, partial r.

    ``annual`` holds ``nep``, ``tmean``, ``prcp``, ``rad`` on ``(year, y, x)``. Returns a Dataset of
    ``(y, x)`` variables named per the results schema in ARCHITECTURE.md.
    """
    from . import stats

    st = cfg.stats
    nep = annual["nep"]
    out = {}
    # one pass: the other corrections' z and p share the pairwise slopes, S and the selections
    others = [c for c in (None, *CORRECTIONS) if c != st.correction]
    tr = stats.sen_mk(nep, dim="year", alpha=st.alpha, correction=st.correction, min_valid=st.min_valid,
                      extra_corrections=[c for c in others if c is not None or st.correction is not None])
    for name in ("slope", "slope_low", "slope_high", "intercept", "s", "var_s", "z", "p", "tau",
                 "n_valid", "reason"):
        out[f"trend_{name}"] = tr[name]
    for c in CORRECTIONS:
        if c != st.correction:
            out[f"trend_z_{c}"] = tr[f"z_{c}"]
            out[f"trend_p_{c}"] = tr[f"p_{c}"]
    if st.correction is not None:
        out[f"trend_z_{st.correction}"] = tr["z"]
        out[f"trend_p_{st.correction}"] = tr["p"]
        out["trend_z_none"] = tr["z_none"]
        out["trend_p_none"] = tr["p_none"]
    c = stats.cv(nep, dim="year", ddof=st.cv_ddof, min_mean=st.cv_min_mean)
    out["cv"] = c["cv"]
    out["cv_reason"] = c["reason"]
    out["nep_mean"] = nep.mean("year", skipna=True).assign_attrs(
        units=nep.attrs.get("units", ""), long_name="multi-year mean NEP",
        cell_methods="year: mean (valid years)")
    # one pass over the pixels for the three variants
    h = stats.hurst_rs(nep, dim="year", method=st.hurst_method,
                       extra_methods=[m for m in HURST_METHODS if m != st.hurst_method])
    for m in HURST_METHODS:
        out[f"hurst_{m}"] = h["hurst" if m == st.hurst_method else f"hurst_{m}"].rename(f"hurst_{m}")
    out["hurst"] = h["hurst"]
    out["hurst_reason"] = h["reason"]
    pc = stats.partial_corr(nep, {v: annual[v] for v in DRIVERS}, dim="year")
    for v in DRIVERS:
        out[f"pcorr_r_{v}"] = pc[f"r_{v}"]
        out[f"pcorr_p_{v}"] = pc[f"p_{v}"]
    return xr.Dataset(out)


# --------------------------------------------------------------------------------------- results
#: bump when a stage's computation changes, so old caches are not reused
PIPELINE_VERSION = "3"
REQUIRED_INPUTS = ("npp", "landcover", "stations", "dem")
TABLE_DIR = "tables"
MAP_DIR = "maps"
RH_SENSITIVITY_PCT = (-10.0, 10.0)
HURST_NULL_Q = (0.05, 0.5, 0.9, 0.95, 0.99)


@dataclass
class Results:
    """What a run produced: the store, its side tables, the station set and (synthetic) the truth.

    Attributes
    ----------
    path : Path
        ``<out_dir>/results.nc`` (CF attributes, units and variant names on every variable).
    ds : xarray.Dataset
        The store, opened from ``path``.
    tables : dict of pandas.DataFrame
        ``qc_summary``, ``interpolation_cv``, ``hurst_null``, ``rh_sensitivity`` and every zonal
        table written as CSV under ``<out_dir>/tables``.
    stations : xarray.Dataset
        QC'd, kriging-filled monthly station data with Albers ``x``/``y``.
    truth : xarray.Dataset or None
        The synthetic scenario's planted truth (``trend_slope`` = planted NEP slope, plus everything
        in ``truth.nc``); ``None`` on real data.
    provinces : list of shapely geometries (WGS84 lon/lat)
    config : Config
    timings : dict
        Seconds per stage of this call (cache hits are fast, not absent).
    peak_rss : dict
        Peak resident memory (bytes) of this process during each stage (dask.distributed workers
        are separate processes and not included).
    stage_timings : pandas.DataFrame
        Per stage: seconds and peak RSS of the call that last computed it (``<out>/timings.json``)
        beside the seconds of this call.
    cache_hits, cache_misses : list of str
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


@contextlib.contextmanager
def _lock(out: Path):
    """One run per output directory at a time (parallel test workers, two terminals)."""
    import fcntl

    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _validate(cfg: Config):
    from .config import Config as _C  # noqa: F401

    st = cfg.stats
    if st.correction not in (None, *CORRECTIONS):
        raise NepInputError(f"unknown correction {st.correction!r}; use none or one of {CORRECTIONS}",
                            variable="stats.correction")
    if st.hurst_method not in HURST_METHODS:
        raise NepInputError(f"unknown Hurst method {st.hurst_method!r}; use one of {HURST_METHODS}",
                            variable="stats.hurst_method")
    if st.min_valid is not None and cfg.last_year - cfg.first_year + 1 < st.min_valid:
        raise NepInputError(f"{cfg.first_year}-{cfg.last_year} has fewer years than stats.min_valid = "
                            f"{st.min_valid}", variable="stats.min_valid")
    if cfg.inputs.drywet is not None:
        raise NepInputError("dry/wet zone polygons are not read yet; leave inputs.drywet unset (zones "
                            "are then the 200/400/800 mm isohyets of the interpolated mean precipitation)",
                            variable="inputs.drywet")
    if cfg.chunk_xy < 16:
        raise NepInputError(f"chunk_xy = {cfg.chunk_xy} is too small (>= 16)", variable="chunk_xy")


def _resolve_inputs(cfg: Config, out: Path):
    """Inputs of this run (the scenario's when none are configured) and the truth file, if any."""
    if cfg.inputs.synthetic:
        from . import synthetic

        sp = synthetic.build_scenario(out / "scenario", cfg)
        inputs = cfg.inputs.__class__(npp=sp.npp_glob, landcover=sp.landcover_glob, stations=str(sp.stations),
                                      station_layout=sp.station_layout, dem=str(sp.dem),
                                      boundaries=str(sp.boundaries))
        return inputs, sp.truth
    missing = [k for k in REQUIRED_INPUTS if getattr(cfg.inputs, k) is None]
    if missing:
        raise NepInputError(f"inputs {', '.join(missing)} not set: give all of {', '.join(REQUIRED_INPUTS)} "
                            "(boundaries optional) or none (the embedded synthetic scenario)",
                            variable=f"inputs.{missing[0]}")
    return cfg.inputs, None


#: The statistics stage maps dask blocks of STATS_BLOCK x STATS_BLOCK stored chunks (512 x 512
#: pixels at the default ``chunk_xy``), read and written chunk by chunk: a quarter of the tasks,
#: and the 500 m stage took 47-53 s instead of 57-59 s (same files, same values; 2026-12-02).
STATS_BLOCK = 2


def _chunks(cfg: Config, dims, scale: int = 1) -> dict:
    """Space chunked by ``chunk_xy`` (times ``scale``), time never (``dims``: a Dataset or names of
    its dims)."""
    dims = set(dims.dims if hasattr(dims, "dims") else dims)
    c = {"y": cfg.chunk_xy * scale, "x": cfg.chunk_xy * scale}
    for d in ("year", "lc_year", "time"):
        if d in dims:
            c[d] = -1
    return c


# ---------------------------------------------------------------------------------------- stages
def _stage_static(cfg: Config, inputs) -> xr.Dataset:
    from . import grid as ngrid
    from . import io as nio

    g = ngrid.make_grid(cfg.resolution_m, inputs.boundaries)
    elev = nio.read_dem(inputs.dem, g)
    ds = g.drop_vars([v for v in ("spatial_ref",) if v in g.coords])
    ds["region"] = ds["region"].astype(np.int8).assign_attrs(ds["region"].attrs, units="1")
    ds["cell_area"] = xr.DataArray(np.array(g["cell_area"].values), dims=("y", "x"),
                                   attrs=g["cell_area"].attrs)
    ds["elevation"] = elev.assign_attrs(units="m", long_name="elevation (DEM, bilinear to the grid)")
    return ds


def _grid_of(static: xr.Dataset) -> xr.Dataset:
    """The analysis grid (with CRS) from the cached static stage."""
    import rioxarray  # noqa: F401  (registers .rio)

    from . import grid as ngrid

    g = static[["province", "region", "cell_area", "lon", "lat"]].load()
    g["region"] = g["region"].astype(bool)
    g = g.rio.write_crs(ngrid.CRS_ALBERS).rio.write_transform(ngrid.grid_transform(g))
    return g


def _stage_climate(cfg: Config, inputs, static: xr.Dataset) -> tuple[xr.Dataset, dict]:
    """Station QC/fill -> surfaces -> annual tmean/prcp/rad and Rh (+ Rh sensitivity variants)."""
    import dataclasses

    from . import carbon, climate
    from . import io as nio

    grid = _grid_of(static)
    st = nio.read_stations(inputs.stations, inputs.station_layout, grid)
    region = static["region"].astype(bool)
    # elevation NaN outside the region: the surfaces are NaN there, and blocks wholly outside the
    # region (45 % of the 500 m grid's blocks) are not computed at all
    cr = climate.prepare_climate(st, static["x"].values, static["y"].values,
                                 static["elevation"].astype(np.float32).where(region), cfg)
    ann = cr.annual
    # annual T, P, Rh and, for the sensitivity table, Rh with b and c perturbed (a is a pure scale
    # factor: exact, applied in the table), all from one pass over the monthly surfaces
    sets, names = [cfg.rh], {"rh": "soil heterotrophic respiration (monthly Pei et al. 2009, summed)"}
    for name in ("b", "c"):
        for pct in RH_SENSITIVITY_PCT:
            sets.append(dataclasses.replace(cfg.rh, **{name: getattr(cfg.rh, name) * (1 + pct / 100)}))
            names[f"rh_{name}_{'m' if pct < 0 else 'p'}{abs(pct):g}"] = f"Rh with {name} changed by {pct:+g} %"
    rhs, tm, pa = carbon.annual_rh_sets(cr.monthly["tmean"], cr.monthly["prcp"], sets, with_climate=True)
    out = xr.Dataset()
    for v, da in (("tmean", tm), ("prcp", pa), ("rad", ann["rad"])):
        out[v] = da.transpose("year", "y", "x").astype(np.float32).where(region).assign_attrs(ann[v].attrs)
    for (tag, long_name), rh in zip(names.items(), rhs):
        out[tag] = rh.transpose("year", "y", "x").where(region).assign_attrs(rh.attrs, long_name=long_name)
    out = out.transpose("year", "y", "x")
    out = out.chunk(_chunks(cfg, out))
    out.attrs["stations_used"] = int(cr.annual_stations.sizes["station"])
    monthly_st = cr.monthly_stations
    keep = [v for v in monthly_st.data_vars if monthly_st[v].dims == ("station", "time")
            or monthly_st[v].dims == ("time", "station")]
    side = {
        "qc_summary": cr.qc.reset_index(),
        "interpolation_cv": cr.cv.reset_index() if cr.cv.index.name else cr.cv,
        "stations": monthly_st[keep],
    }
    return out, side


def _stage_carbon(cfg: Config, inputs, static: xr.Dataset, clim: xr.Dataset) -> xr.Dataset:
    from . import carbon
    from . import io as nio
    from . import reasons

    grid = _grid_of(static)
    npp = nio.read_npp(inputs.npp, grid, cfg.years)
    lc = nio.read_landcover(inputs.landcover, grid, [y for y in cfg.years if y <= 2022])
    del grid
    # The readers return numpy cubes (24 x 26 M float32 at 500 m). Wrap them in dask chunks at
    # once, without copying, so everything after is blockwise: astype / where / .chunk() on the
    # eager cubes made full copies and the stage peaked at 16.5 GB at 500 m.
    out = xr.Dataset()
    for name, v in (("npp", npp["npp"]), ("npp_reason", npp["npp_reason"]), ("landcover", lc)):
        c = _chunks(cfg, v.dims)
        out[name] = v.copy(data=_dask_view(v.values, [c[d] for d in v.dims]))
    del npp, lc
    n = carbon.nep(out["npp"], clim["rh"])
    out["nep"] = n.astype(np.float32).assign_attrs(n.attrs)
    out["rh"] = clim["rh"]
    out["npp_reason"] = xr.where(static["region"].astype(bool), out["npp_reason"],
                                 np.int8(reasons.OUTSIDE_REGION)).astype(np.int8).assign_attrs(
        out["npp_reason"].attrs)
    return out.chunk(_chunks(cfg, out))


def _dask_view(a: np.ndarray, chunks) -> "dask.array.Array":
    """A dask array whose blocks are sliced from ``a`` when computed, without copying ``a``.

    ``dask.array.from_array`` splits a numpy array into per-chunk copies at once (good for a
    distributed scheduler, which ships the pieces to workers, but a second full copy of the cube in
    this process). On the local threaded scheduler ``a`` is wrapped so that slicing is deferred to
    the tasks; on a dask.distributed client the default eager split is kept.
    """
    import uuid

    import dask.array as da

    chunks = tuple(chunks)
    if not _local_scheduler():
        return da.from_array(a, chunks=chunks)
    return da.from_array(_Sliceable(a), chunks=chunks, name=f"view-{uuid.uuid4().hex}", asarray=True,
                         inline_array=False, meta=a[(slice(0, 0),) * a.ndim])


class _Sliceable:
    """A numpy array that dask sees as a generic array-like (sliced lazily, never copied whole)."""

    def __init__(self, a: np.ndarray):
        self.a, self.shape, self.dtype, self.ndim = a, a.shape, a.dtype, a.ndim

    def __getitem__(self, key):
        return self.a[key]


def _stage_stats(cfg: Config, carbon_path: Path, climate_path: Path) -> xr.Dataset:
    """The per-pixel statistics of the stage files' NEP and drivers, in blocks of STATS_BLOCK^2 chunks."""
    carbon = open_netcdf(carbon_path, chunks=_chunks(cfg, ["year", "lc_year"], scale=STATS_BLOCK))
    clim = open_netcdf(climate_path, chunks=_chunks(cfg, ["year"], scale=STATS_BLOCK))
    return per_pixel_statistics(xr.Dataset({"nep": carbon["nep"], **{v: clim[v] for v in DRIVERS}}), cfg)


def _hurst_null(cfg: Config, n: int) -> pd.DataFrame:
    from . import stats

    q = tuple(sorted(set(HURST_NULL_Q) | {cfg.stats.hurst_null_q}))
    frames = [stats.hurst_null_quantiles(n=n, method=m, q=q, n_sims=cfg.stats.hurst_null_sims,
                                         seed=cfg.seed) for m in HURST_METHODS]
    return pd.concat(frames, ignore_index=True)


def _classes(cfg: Config, stats_ds: xr.Dataset, null: pd.DataFrame) -> xr.Dataset:
    """Categorical maps and map-level FDR from the per-pixel statistics (cheap, not cached)."""
    from . import classify
    from . import stats

    st = cfg.stats
    out = xr.Dataset()
    tr = xr.Dataset({"slope": stats_ds["trend_slope"], "z": stats_ds["trend_z"], "p": stats_ds["trend_p"]})
    out["trend_class"] = classify.trend_class(tr, eps=st.stable_eps)
    variant = st.correction or "none"
    sig = stats.fdr(stats_ds["trend_p"].load(), alpha=st.fdr_alpha)
    out["trend_sig_fdr"] = sig.astype(np.int8).assign_attrs(sig.attrs, variant=variant)
    for c in ("none", *CORRECTIONS):
        name = "trend_p" if c == variant else f"trend_p_{c}"
        s = stats.fdr(stats_ds[name].load(), alpha=st.fdr_alpha)
        out[f"trend_sig_fdr_{c}"] = s.astype(np.int8).assign_attrs(s.attrs, variant=c)
    out["nep_class"] = classify.nep_class(stats_ds["nep_mean"])
    cv = stats_ds["cv"].load()
    edges = classify.natural_breaks(cv, k=st.n_breaks, sample=st.breaks_sample, seed=cfg.seed)
    cc = classify.classify_breaks(cv, edges, names=classify.CV_CLASS_NAMES
                                  if len(classify.CV_CLASS_NAMES) == st.n_breaks else None)
    out["cv_class"] = cc.assign_attrs(
        breaks=np.asarray(edges), long_name="Cv class (Fisher-Jenks)",
        description=f"Fisher-Jenks natural breaks (exact least-squares optimum, jenkspy), k = {st.n_breaks}, "
                    f"fitted on a seeded sample of <= {st.breaks_sample} pixels")
    h = stats_ds["hurst"]
    out["persistence_class"] = classify.persistence_class(tr, h, threshold=0.5, eps=st.stable_eps)
    row = null[(null["method"] == st.hurst_method) & np.isclose(null["quantile"], st.hurst_null_q)]
    thr = float(row["hurst"].iloc[0])
    pc = classify.persistence_class(tr, h, threshold=thr, eps=st.stable_eps)
    out["persistence_class_calibrated"] = pc.assign_attrs(
        long_name=f"trend x Hurst class (H > iid-null q{st.hurst_null_q:g} = {thr:.3f})",
        null_quantile=st.hurst_null_q, null_method=st.hurst_method, null_sims=st.hurst_null_sims)
    return out


#: per-case sums of the Rh sensitivity table (area-weighted, km2): valid area, NEP x area, sink area,
#: increasing area, significantly increasing area, area with a slope, slope x area
_SENS_SUMS = 7


def _sens_sums(mean, slope, cls, w) -> np.ndarray:
    """The area sums of one case over pixels (1-D arrays); see ``_SENS_SUMS``."""
    valid = np.isfinite(mean)
    has_slope = np.isfinite(slope)
    wv = np.where(valid, w, 0.0)
    return np.array([wv.sum(), np.where(valid, mean * w, 0.0).sum(), wv[mean > 0].sum(),
                     wv[cls >= 6].sum(), wv[cls >= 8].sum(), w[has_slope].sum(),
                     np.where(has_slope, slope * w, 0.0).sum()])


def _rh_sens_block(nep, rh, *rest, cases, t, z_ci, min_valid, correction, eps, thr):
    """Area sums of every Rh case of one spatial block, read once (numpy; no xarray).

    ``rest`` = the perturbed-Rh cubes, then the 2-D region, cell area, and the baseline NEP mean,
    Theil-Sen slope and trend class of the results store, each with a leading axis of length 1.
    A case is ("base", None), ("scale", f) with Rh' = (1 + f) Rh, or ("cube", i) with Rh' = rest[i].
    NEP' = NEP - (Rh' - Rh), in float32 like the stored NEP. Returns (n_cases * _SENS_SUMS, 1, 1).
    """
    from .classify import _trend_codes
    from .stats import _kernels as K

    *variants, region, area, base_mean, base_slope, base_cls = rest
    region = region[0].astype(bool)
    out = np.zeros((len(cases), _SENS_SUMS))
    if region.any():
        w = area[0][region].astype(np.float64)
        cube = np.ascontiguousarray(nep[:, region].T)          # (npix, year)
        rh2 = rh[:, region].T
        for j, (kind, arg) in enumerate(cases):
            if kind == "base":
                out[j] = _sens_sums(base_mean[0][region].astype(np.float64),
                                    base_slope[0][region].astype(np.float64), base_cls[0][region], w)
                continue
            dif = rh2 * np.float32(arg) if kind == "scale" else variants[arg][:, region].T - rh2
            y = np.ascontiguousarray(cube - dif, dtype=np.float32)
            fin = np.isfinite(y)
            cnt = fin.sum(axis=1)
            mean = np.full(len(y), np.nan)
            np.divide(np.where(fin, y, 0).sum(axis=1, dtype=np.float64), cnt, out=mean, where=cnt > 0)
            with K.single_thread():     # the blocks are the parallelism
                r = K._sen_mk_kernel(y, t, z_ci, z_ci, min_valid, correction, np.zeros(0, np.int64))
            slope, z = r[0], r[6]
            out[j] = _sens_sums(mean, slope, _trend_codes(slope, z, eps, thr), w)
    return out.reshape(-1, 1, 1)


def _rh_sensitivity(cfg: Config, ds: xr.Dataset, clim: xr.Dataset) -> pd.DataFrame:
    """Mean NEP, sink share, mean Sen slope and trend-class shares when a Rh constant moves by +-10 %.

    One pass over the store: each spatial block of NEP, Rh and the four perturbed Rh cubes is read
    once, and the six perturbed NEP series go through the same Sen / Mann-Kendall kernel and Table 1
    classes as the results (``cfg.stats`` alpha, correction, min_valid, stable band). The baseline
    row is the results store itself (``nep_mean``, ``trend_slope``, ``trend_class``). Rh' - Rh is
    subtracted from the stored NEP, so a perturbed NEP is NPP - Rh' up to float32 rounding. ``a`` is
    a pure scale factor of Rh (Rh' = (1 + f) Rh exactly); ``b`` and ``c`` use the climate stage's
    Rh recomputed from the monthly surfaces with the perturbed constant.
    """
    import dask.array as da
    from scipy.stats import norm

    from . import classify
    from .stats import _common
    from .stats.trend import CORRECTIONS as CORR_CODES

    st = cfg.stats
    pct_lo, pct_hi = RH_SENSITIVITY_PCT
    cases = [(name, pct) for name in ("a", "b", "c") for pct in (pct_lo, 0.0, pct_hi)]
    names, spec = [], []
    for k, pct in cases:
        if pct == 0:
            spec.append(("base", None))
        elif k == "a":
            spec.append(("scale", pct / 100))
        else:
            names.append(f"rh_{k}_{'m' if pct < 0 else 'p'}{abs(pct):g}")
            spec.append(("cube", len(names) - 1))
    c3 = {"year": -1, "y": cfg.chunk_xy, "x": cfg.chunk_xy}
    c2 = {"y": cfg.chunk_xy, "x": cfg.chunk_xy}
    cubes = [ds["nep"], ds["rh"], *(clim[n] for n in names)]
    for c in cubes:
        if c.dims != ("year", "y", "x"):
            raise NepInputError(f"expected dims ('year', 'y', 'x'), got {c.dims}", variable=c.name)
    cubes = [c.chunk(c3).data for c in cubes]
    maps = [ds["region"].astype(bool), ds["cell_area"], ds["nep_mean"], ds["trend_slope"], ds["trend_class"]]
    maps = [m.transpose("y", "x").chunk(c2).data[None] for m in maps]
    ny, nx = len(cubes[0].chunks[1]), len(cubes[0].chunks[2])
    ncols = len(spec) * _SENS_SUMS
    parts = da.map_blocks(
        _rh_sens_block, *cubes, *maps, dtype=np.float64, chunks=((ncols,), (1,) * ny, (1,) * nx),
        cases=spec, t=_common.time_values(ds["nep"], "year"), z_ci=float(norm.ppf(1 - st.alpha / 2)),
        min_valid=int(ds["trend_reason"].attrs["min_valid"]), correction=CORR_CODES[st.correction],
        eps=float(st.stable_eps),
        thr=tuple(float(x) for x in classify.Z_THRESHOLDS))
    sums = parts.sum(axis=(1, 2)).compute().reshape(len(spec), _SENS_SUMS)
    rows = []
    for (k, pct), s in zip(cases, sums):
        rows.append({"parameter": k, "change_pct": pct, "parameter value": getattr(cfg.rh, k) * (1 + pct / 100),
                     "nep_mean_g C m-2 a-1": s[1] / s[0], "sink_share_pct": s[2] / s[0] * 100,
                     "mean_slope_g C m-2 a-2": s[6] / s[5], "increasing_share_pct": s[3] / s[0] * 100,
                     "significant_increase_share_pct": s[4] / s[0] * 100})
    out = pd.DataFrame(rows)
    base_mean = float(out.loc[out["change_pct"] == 0, "nep_mean_g C m-2 a-1"].iloc[0])
    out["nep_mean_change_pct"] = (out["nep_mean_g C m-2 a-1"] / base_mean - 1) * 100
    return out


def _drywet(static: xr.Dataset, clim: xr.Dataset) -> xr.DataArray:
    from . import grid as ngrid

    p = clim["prcp"].mean("year").where(static["region"].astype(bool))
    p.attrs["units"] = "mm a-1"
    dw = ngrid.drywet_zones(p.load())
    return dw.astype(np.int8).assign_attrs(
        long_name="dry/wet zone (200/400/800 mm isohyets of interpolated mean annual precipitation)",
        units="1", flag_values=np.arange(1, 5, dtype=np.int8), flag_meanings="arid semi_arid semi_humid humid")


ZONAL_TABLES = ("province_summary", "drywet_summary", "nep_series", "landcover_nep_series", "climate_series",
                "nep_class_shares", "trend_class_shares", "trend_sensitivity", "cv_class_shares",
                "landcover_areas", "landcover_shares_by_year", "landcover_changes", "landcover_nep",
                "persistence_shares", "hurst_summary", "partial_corr_shares", "climate_trends",
                "study_vs_reproduction", "table1_trend_categories")
COG_MAPS = ("nep_mean", "nep_class", "trend_slope", "trend_class", "cv", "cv_class", "hurst",
            "persistence_class", "persistence_class_calibrated", "pcorr_r_tmean", "pcorr_r_prcp",
            "pcorr_r_rad")


# 2-D variables the tables and maps never read (kept lazy when the store is too large to load)
_UNTABULATED = {"lon", "lat", "elevation", "trend_intercept", "trend_s", "trend_var_s", "trend_tau",
                "trend_z", "trend_z_hamed_rao", "trend_z_yue_wang", "trend_z_tfpw", "trend_n_valid"}


def _load_maps(store: xr.Dataset) -> xr.Dataset:
    """``store`` with its 2-D maps (and the land-cover stack) in memory, the yearly cubes left lazy.

    At 500 m the store is ~23 GB uncompressed, so it stays lazy; but the tables read the same maps
    again and again (every zonal statistic needs the province, area and class maps), and each lazy
    read decompresses the map anew through a dask graph of thousands of chunks. Loading the ~4.5 GB
    of maps the tables use once made the 500 m tables stage minutes instead of hours."""
    if all(isinstance(v.data, np.ndarray) for v in store.data_vars.values()):
        return store
    names = [n for n, v in store.data_vars.items()
             if n not in _UNTABULATED and n not in _LAZY_MAPS and (v.dims == ("y", "x") or n == "landcover")]
    out = store.copy()
    source = store.encoding.get("source")
    if source:   # one h5py read per variable: ~3x faster than thousands of small dask tasks
        with xr.open_dataset(source, engine="h5netcdf") as plain:
            for name in names:
                out[name] = _shared_copy(out, name, plain[name])
    else:
        for name in names:
            out[name] = _shared_copy(out, name, store[name])
    return out


#: maps no table reads (they stay lazy in ``Results.ds``; 0.42 GB of float64 at 500 m)
_LAZY_MAPS = {"trend_slope_low", "trend_slope_high", "trend_reason", "cv_reason", "hurst_reason"}


def _shared_copy(out: xr.Dataset, name: str, var: xr.DataArray) -> xr.DataArray:
    """``var`` loaded, sharing the memory of an already loaded, identical ``hurst_<method>`` map
    when ``name`` is ``hurst`` (the store keeps the selected variant under both names)."""
    var = var.load()
    if name == "hurst":
        for m in HURST_METHODS:
            other = out.get(f"hurst_{m}")
            if (other is not None and isinstance(other.data, np.ndarray) and other.shape == var.shape
                    and other.dtype == var.dtype and np.array_equal(other.values, var.values, equal_nan=True)):
                return var.copy(data=other.values)
    return var


def _write_tables(res: "Results", out: Path, write: bool = True) -> dict:
    from . import tables as ntables
    from ._atomic import write_text

    tdir = out / TABLE_DIR
    tdir.mkdir(exist_ok=True)
    produced = dict(res.tables)
    for name in ZONAL_TABLES:
        fn = getattr(ntables, name)
        produced[name] = fn(res, null=res.tables["hurst_null"]) if name == "hurst_summary" else fn(res)
    if res.truth is not None:
        produced["truth_recovery"] = ntables.truth_recovery(res)
    if write:
        for name, df in produced.items():
            if isinstance(df, pd.DataFrame):
                write_text(df.to_csv(), tdir / f"{name}.csv")
    return produced


def _write_maps(ds: xr.Dataset, out: Path):
    """Cloud-optimised GeoTIFFs of the main maps (QGIS-readable, CRS and units in the tags)."""
    import rasterio
    from rasterio.enums import Resampling

    from . import grid as ngrid

    mdir = out / MAP_DIR
    mdir.mkdir(exist_ok=True)
    transform = ngrid.grid_transform(ds)
    for name in COG_MAPS:
        da = ds[name]
        is_int = da.dtype.kind in "iu"
        arr = np.asarray(da.values, dtype=np.int16 if is_int else np.float32)
        nodata = 0 if is_int else np.nan
        profile = dict(driver="COG", width=arr.shape[1], height=arr.shape[0], count=1,
                       dtype=arr.dtype.name, crs=ngrid.CRS_ALBERS, transform=transform, nodata=nodata,
                       compress="DEFLATE", blocksize=256, overview_resampling="nearest" if is_int else "average",
                       num_threads="ALL_CPUS")   # GDAL deflates the COG tiles on every core
        tags = {k: str(v) for k, v in da.attrs.items() if k in ("units", "long_name", "description",
                                                                  "flag_meanings", "flag_values")}
        if ds.attrs.get("synthetic"):
            tags["note"] = "SYNTHETIC embedded scenario: not observations"
        # GDAL's block cache defaults to 5 % of RAM (1.2 GB here) on top of the maps in memory
        with atomic_path(mdir / f"{name}.tif") as tmp, rasterio.Env(GDAL_CACHEMAX=256):
            with rasterio.open(tmp, "w", **profile) as dst:
                dst.write(arr, 1)
                dst.update_tags(**tags)
        del arr
    del Resampling


def _attach(ds: xr.Dataset, cfg: Config, synthetic: bool, inputs) -> xr.Dataset:
    ds.attrs.update({
        "title": "Net ecosystem productivity (NEP = NPP - Rh) of Northwest China and its statistics",
        "Conventions": "CF-1.10",
        "source": f"nep_core {__import__('nep_core').__version__} pipeline v{PIPELINE_VERSION}",
        "synthetic": int(synthetic),
        "config": json.dumps(cfg.to_dict(), default=str),
        "inputs": json.dumps({k: getattr(inputs, k) for k in ("npp", "landcover", "stations", "dem",
                                                               "boundaries")}, default=str),
        "years": f"{cfg.first_year}-{cfg.last_year}",
        "crs_proj4": ds.attrs.get("crs_proj4", ""),
    })
    if synthetic:
        ds.attrs["note"] = ("SYNTHETIC: built by nep_core.synthetic on real geography with planted, known "
                            "truth; these numbers are not observations of Northwest China")
    return ds


def _georeference(ds: xr.Dataset) -> xr.Dataset:
    """CF grid mapping (rioxarray ``spatial_ref``) on every (y, x) variable, so GIS tools read it."""
    import rioxarray  # noqa: F401

    from . import grid as ngrid

    ds = ds.rio.write_crs(ngrid.CRS_ALBERS).rio.write_transform(ngrid.grid_transform(ds))
    for v in ds.data_vars.values():
        if v.dims[-2:] == ("y", "x"):
            v.attrs["grid_mapping"] = "spatial_ref"
    return ds


def _provinces(inputs) -> list:
    from . import grid as ngrid
    from . import io as nio

    path = inputs.boundaries or ngrid.data_path("nwc_provinces.geojson")
    return [b.geometry for b in nio.read_boundaries(path)]


def _load_truth(path) -> xr.Dataset:
    """The planted truth, lazily (at 500 m its annual cubes are ~12 GB); loaded when small."""
    t = xr.open_dataset(path, engine="netcdf4", chunks={})
    if t.nbytes < 2e9:
        t = t.load()
    t["trend_slope"] = t["nep_slope_planted"].assign_attrs(t["nep_slope_planted"].attrs)
    return t


def run(cfg: Config | None = None, progress: bool = False) -> Results:
    """Run (or reuse) every stage for ``cfg`` and return the :class:`Results`.

    Stages: scenario (synthetic only) -> static grid + DEM -> climate (QC, kriging fill, spline
    surfaces, monthly Rh) -> carbon (NPP, NEP, land cover) -> per-pixel statistics -> classes/FDR
    -> results.nc, tables/*.csv, maps/*.tif. See the module docstring for caching.
    """
    cfg = cfg or Config()
    _validate(cfg)
    out = Path(cfg.out_dir).expanduser().resolve()
    T = Timings()
    with _lock(out), _scheduler(cfg.scheduler, progress):
        # each finished stage is recorded at once: a run killed later keeps what it measured
        T.on_stage = lambda: _record_timings(out, T)
        cache = _Cache(out)
        T.misses = cache.misses
        with T("scenario / inputs"):
            had_scenario = (out / "scenario" / "scenario.json").exists()
            inputs, truth_path = _resolve_inputs(cfg, out)
            if truth_path is not None and not had_scenario:
                cache.misses.append("scenario")
            fps = {k: _files_fingerprint(getattr(inputs, k)) for k in (*REQUIRED_INPUTS, "boundaries")}
        k_static = _key("static", PIPELINE_VERSION, cfg.resolution_m, fps["boundaries"], fps["dem"])
        with T("grid + DEM"):
            static = cache.netcdf("static", k_static, lambda: _stage_static(cfg, inputs)).load()
        k_clim = _key("climate", PIPELINE_VERSION, k_static, fps["stations"], inputs.station_layout,
                      cfg.years, dataclasses_asdict(cfg.rh), cfg.chunk_xy)
        side_path = cache.path("stations", k_clim)
        csvs = {name: cache.path(name, k_clim, ".csv") for name in ("qc_summary", "interpolation_cv")}
        with T("climate + Rh"):
            if not (side_path.exists() and all(p.exists() for p in csvs.values())):
                cache.path("climate", k_clim).unlink(missing_ok=True)  # the stage file is written last

            def compute_climate():
                from ._atomic import write_text

                ds, side = _stage_climate(cfg, inputs, static)
                write_netcdf(side["stations"], side_path)
                for name, path in csvs.items():
                    write_text(side[name].to_csv(index=False), path)
                return ds

            clim = cache.netcdf("climate", k_clim, compute_climate, chunks=_chunks(cfg, ["year"]))
            for name, path in [("stations", side_path), *csvs.items()]:
                cache._prune(name, path)
            stations = xr.open_dataset(side_path, engine="h5netcdf").load()
            tables = {name: pd.read_csv(path) for name, path in csvs.items()}
        k_carbon = _key("carbon", PIPELINE_VERSION, k_clim, fps["npp"], fps["landcover"])
        with T("NPP + NEP + land cover"):
            carbon = cache.netcdf("carbon", k_carbon, lambda: _stage_carbon(cfg, inputs, static, clim),
                                  chunks=_chunks(cfg, ["year", "lc_year"]))
        k_stats = _key("stats", PIPELINE_VERSION, k_carbon, dataclasses_asdict(cfg.stats), cfg.years)
        with T("per-pixel statistics"):
            xy = {"y": cfg.chunk_xy, "x": cfg.chunk_xy}
            stats_src = (cache.path("carbon", k_carbon), cache.path("climate", k_clim))
            stats_ds = cache.netcdf("stats", k_stats, lambda: _stage_stats(cfg, *stats_src),
                                    chunks=xy, store_chunks=xy)
        with T("Hurst null"):
            k_null = _key("hurst_null", PIPELINE_VERSION, len(cfg.years), cfg.seed, cfg.stats.hurst_null_sims,
                          cfg.stats.hurst_null_q)
            npath = cache.path("hurst_null", k_null, ".csv")
            if not npath.exists():
                from ._atomic import write_text
                write_text(_hurst_null(cfg, len(cfg.years)).to_csv(index=False), npath)
                cache._prune("hurst_null", npath)
                cache.misses.append("hurst_null")
            tables["hurst_null"] = pd.read_csv(npath)
        k_final = _key("results", PIPELINE_VERSION, k_stats, k_clim, _cfg_key(cfg),
                       tables["hurst_null"].to_csv())
        final = out / "results.nc"
        stamp = out / ".results.key"
        if final.exists() and stamp.exists() and stamp.read_text() == k_final:
            cache.hits.append("results")
        else:
            with T("classes + FDR"):
                classes = _classes(cfg, stats_ds, tables["hurst_null"])
                cache.misses.append("classes")   # not cached on its own: recomputed with results.nc
            with T("assemble results.nc"):
                parts = [static, carbon, clim[["tmean", "prcp", "rad"]], stats_ds, classes]
                ds = xr.merge([p.drop_vars("spatial_ref", errors="ignore") for p in parts],
                              compat="override", combine_attrs="override")
                ds["drywet"] = _drywet(static, clim)
                ds = _attach(ds, cfg, truth_path is not None, inputs)
                ds = _georeference(ds)
                # the in-memory maps (grid, classes) in the same 2-D chunks as the rest, so they are
                # deflated in parallel too (dask-backed variables whose blocks are their chunks);
                # lazily sliced views: Dataset.chunk copied them (+1.7 GB at 500 m)
                for name, v in list(ds.data_vars.items()):
                    if v.chunks is None and v.dims[-2:] == ("y", "x"):
                        c = _chunks(cfg, v.dims)
                        ds[name] = v.copy(data=_dask_view(v.values, [c.get(d, -1) for d in v.dims]))
                stamp.unlink(missing_ok=True)
                # the yearly cubes are stored unchanged in the stage files (same chunks and filters):
                # their compressed chunks are copied, not decompressed and deflated again
                raw = {v: (cache.path("carbon", k_carbon), v) for v in carbon.data_vars}
                raw.update({v: (cache.path("climate", k_clim), v) for v in ("tmean", "prcp", "rad")})
                write_netcdf(ds, final, raw_chunks=raw)
                del ds, parts, classes                  # the in-memory maps: ~1.5 GB at 500 m
                from ._atomic import write_text
                write_text(k_final, stamp)
                cache.misses.append("results")
        del static                                      # ~0.8 GB at 500 m; the store has it
        with T("open results.nc"):
            store = open_netcdf(final, chunks={})
            if store.nbytes < 3e9:
                store = store.load()
                store.close()
        with T("Rh sensitivity"):
            spath = cache.path("rh_sensitivity", _key(k_final, RH_SENSITIVITY_PCT, "table-v3"), ".csv")
            if not spath.exists():
                from ._atomic import write_text
                write_text(_rh_sensitivity(cfg, store, clim).to_csv(index=False), spath)
                cache._prune("rh_sensitivity", spath)
                cache.misses.append("rh_sensitivity")
            tables["rh_sensitivity"] = pd.read_csv(spath)
        truth = _load_truth(truth_path) if truth_path is not None else None
        if truth_path is not None and (Path(truth_path).parent / "station_faults.csv").exists():
            tables["station_faults"] = pd.read_csv(Path(truth_path).parent / "station_faults.csv",
                                                   dtype={"station": str, "date": str})
        res = Results(path=final, ds=store, tables=tables, stations=_station_xy(stations), truth=truth,
                      provinces=_provinces(inputs), config=cfg, timings=T.stages,
                      cache_hits=cache.hits, cache_misses=cache.misses)
        with T("tables + maps"):
            res.ds = store = _load_maps(store)
            ostamp = out / ".outputs.key"
            fresh = not (ostamp.exists() and ostamp.read_text() == k_final)
            res.tables = _write_tables(res, out, write=fresh or not (out / TABLE_DIR).is_dir())
            if fresh or not (out / MAP_DIR).is_dir():
                _write_maps(store, out)
                from ._atomic import write_text
                write_text(k_final, ostamp)
                cache.misses.append("outputs")
        res.stage_timings = _record_timings(out, T)
    res.timings = dict(T.stages)
    res.peak_rss = dict(T.peak_rss)
    return res


TIMINGS_FILE = "timings.json"


def _record_timings(out: Path, T: Timings) -> pd.DataFrame:
    """Merge this call's computed stages into ``<out>/timings.json`` and return the table.

    A stage reused from the cache keeps the time and memory of the run that computed it, so the
    table describes the cost of the results, not of the last (cached) call.
    """
    from ._atomic import write_text

    path = out / TIMINGS_FILE
    try:
        saved = json.loads(path.read_text()) if path.exists() else {}
    except json.JSONDecodeError:
        saved = {}
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    for name, sec in T.stages.items():
        if name in T.computed or name not in saved:
            saved[name] = {"seconds": round(sec, 3), "peak_rss_gb": round(T.peak_rss.get(name, 0) / 1e9, 3),
                           "computed": name in T.computed, "at": T.finished.get(name, stamp)}
    write_text(json.dumps(saved, indent=1), path)
    rows = {name: saved[name] for name in T.stages}
    df = pd.DataFrame(rows).T[["seconds", "peak_rss_gb", "computed", "at"]]
    df.columns = ["seconds when computed (s)", "peak RSS when computed (GB)", "computed in that call", "at"]
    df.insert(1, "seconds this call (s)", pd.Series(T.stages).round(3))
    df.index.name = "stage"
    return df


def _cfg_key(cfg: Config) -> dict:
    """The config as it affects results (not where they are written or which scheduler runs them)."""
    d = dataclasses_asdict(cfg)
    d.pop("out_dir")
    d.pop("scheduler")
    d.pop("inputs")       # inputs enter the keys through their file fingerprints
    return d


def dataclasses_asdict(obj) -> dict:
    import dataclasses

    return dataclasses.asdict(obj)


def _station_xy(st: xr.Dataset) -> xr.Dataset:
    from . import grid as ngrid

    if "x" not in st.coords and "lon" in st.coords:
        x, y = ngrid.lonlat_to_xy(st["lon"].values, st["lat"].values)
        st = st.assign_coords(x=("station", np.asarray(x)), y=("station", np.asarray(y)))
    return st


def scenario(cfg: Config | None = None) -> Path:
    """Build (or reuse) the synthetic scenario of ``cfg`` and return its directory."""
    from . import synthetic

    cfg = cfg or Config()
    out = Path(cfg.out_dir).expanduser().resolve()
    with _lock(out):
        return synthetic.build_scenario(out / "scenario", cfg).root


_RESULTS: dict = {}


def results(config: Config | str | os.PathLike | None = None) -> Results:
    """The results of ``config`` for chapters and notebooks, computed once per process.

    ``config`` may be a Config, a TOML/YAML path, or None: then the file named by the environment
    variable ``NEP_CONFIG`` (how ``NEP_CONFIG=nep.toml quarto render`` points the book at real
    data), else the embedded default. A relative ``out_dir`` is taken relative to the working
    directory (the project root when the book is built).
    """
    from .config import load_config

    if config is None:
        config = os.environ.get("NEP_CONFIG") or None
    cfg = config if isinstance(config, Config) else load_config(config)
    key = cfg.fingerprint() + str(Path(cfg.out_dir).expanduser().resolve())
    if key not in _RESULTS:
        _RESULTS[key] = run(cfg, progress=False)
    return _RESULTS[key]
