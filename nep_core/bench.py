"""Benchmark of the per-pixel statistics: ``python -m nep_core.bench stats [--pixels N]``.

Builds a seeded float32 cube of N pixels x 24 years (NEP-like: trend + AR(1) noise, and three
drivers), dask-chunked along pixels so memory is bounded by the chunk size, not by N. Times each
public statistic (computing its result), the full stack (sen_mk + cv + hurst_rs + partial_corr with
3 drivers), and, in the same run, ``pymannkendall.original_test`` looped over a subsample. Prints
pixels per second and the speed-up over the pymannkendall loop. Not a test: it prints figures.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def _cube(npix: int, chunk: int, seed: int):
    import dask.array as dsa
    import xarray as xr

    years = np.arange(2000, 2024)
    n = years.size

    def block(seed_offset, size, kind):
        rng = np.random.default_rng([seed, seed_offset, kind])
        e = rng.standard_normal((size, n)).astype(np.float32)
        if kind == 0:   # NEP: level + trend + AR(1) 0.3 noise
            for j in range(1, n):
                e[:, j] += 0.3 * e[:, j - 1]
            return (200 + 3 * (np.arange(n) - 11.5) + 40 * e).astype(np.float32)
        return (10 * kind + e).astype(np.float32)

    def var(kind):
        blocks = []
        for b, start in enumerate(range(0, npix, chunk)):
            size = min(chunk, npix - start)
            blocks.append(dsa.from_delayed(_delayed(block)(b, size, kind), (size, n), np.float32))
        arr = dsa.concatenate(blocks, axis=0)
        return xr.DataArray(arr, dims=("pixel", "year"), coords={"year": years},
                            attrs={"units": "g C m-2 a-1"}, name=f"v{kind}")

    return var(0), {"tmean": var(1), "prcp": var(2), "rad": var(3)}


def _delayed(f):
    import dask

    return dask.delayed(f, pure=True)


def _time(label, func, npix, results):
    t0 = time.perf_counter()
    func()
    dt = time.perf_counter() - t0
    results[label] = dt
    print(f"{label:<34s} {dt:8.2f} s   {npix / dt:12,.0f} px/s", flush=True)
    return dt


def bench_stats(npix: int = 1_000_000, chunk: int = 125_000, mk_sample: int = 2000, seed: int = 20000101,
                scheduler: str = "threads") -> dict:
    """Run the benchmark. ``scheduler``: dask "threads" (default) or "synchronous" (the numba
    kernels already use all cores inside a chunk; on a loaded 2-core machine both measured alike)."""
    import dask
    import pymannkendall as mk

    from . import stats

    nep, drivers = _cube(npix, chunk, seed)
    print(f"cube: {npix:,} pixels x 24 years float32, dask chunks of {chunk:,} pixels "
          f"({chunk * 24 * 4 / 2**20:.0f} MiB per variable chunk)")
    # warm-up: compile / load the numba kernels outside the timings
    small = nep.isel(pixel=slice(0, 256)).compute()
    stats.sen_mk(small).compute()
    stats.cv(small).compute()
    stats.hurst_rs(small).compute()
    stats.partial_corr(small, {k: v.isel(pixel=slice(0, 256)).compute() for k, v in drivers.items()}).compute()
    # the input generation itself, to subtract
    res: dict[str, float] = {}
    with dask.config.set(scheduler=scheduler):
        t_in = _time("input generation only", lambda: dask.compute(nep.data.sum(), *(d.data.sum() for d in drivers.values())), npix, res)
        nep1 = nep.data.sum()
        t_nep = _time("  (nep input only)", lambda: nep1.compute(), npix, res)
        t_sen = _time("sen_mk (slope, CI, S, Var, Z, p)", lambda: stats.sen_mk(nep).compute(), npix, res)
        _time("cv", lambda: stats.cv(nep).compute(), npix, res)
        _time("hurst_rs prefix", lambda: stats.hurst_rs(nep).compute(), npix, res)
        _time("partial_corr (3 drivers)", lambda: stats.partial_corr(nep, drivers).compute(), npix, res)

        def stack():
            dask.compute(stats.sen_mk(nep), stats.cv(nep), stats.hurst_rs(nep), stats.partial_corr(nep, drivers))

        t_all = _time("full stack (one dask graph)", stack, npix, res)
    sub = nep.isel(pixel=slice(0, mk_sample)).values
    t0 = time.perf_counter()
    for row in sub:
        mk.original_test(row)
    t_mk = time.perf_counter() - t0
    mk_rate = mk_sample / t_mk
    print(f"{'pymannkendall.original_test loop':<34s} {t_mk:8.2f} s   {mk_rate:12,.0f} px/s  ({mk_sample:,} px)")
    sen_rate = npix / t_sen
    sen_rate_net = npix / max(t_sen - t_nep, 1e-9)
    print(f"sen_mk / pymannkendall speed-up: {sen_rate / mk_rate:,.0f}x "
          f"(input generation of the nep variable, {t_nep:.2f} s, included; {sen_rate_net / mk_rate:,.0f}x without)")
    print(f"full stack: {npix / t_all:,.0f} px/s (input generation of 4 variables, {t_in:.2f} s, included; "
          f"{npix / max(t_all - t_in, 1e-9):,.0f} px/s without)")
    res.update(mk_rate=mk_rate, sen_speedup=sen_rate / mk_rate, stack_rate=npix / t_all, npix=npix,
               input_s=t_in, nep_input_s=t_nep)
    return res


# ------------------------------------------------------------------------ per-pixel loop peers
def _hurst_prefix_loop(x):
    """Straightforward R/S 'prefix' Hurst of one series (loop over tau, numpy polyfit)."""
    lt, lrs = [], []
    for tau in range(2, len(x) + 1):
        v = x[:tau]
        dev = np.cumsum(v - v.mean())
        r, s = dev.max() - min(dev.min(), 0.0), v.std()
        if r > 0 and s > 0:
            lt.append(np.log(tau))
            lrs.append(np.log(r / s))
    return np.polyfit(lt, lrs, 1)[0]


def _pingouin_three(df, names):
    import pingouin as pg

    for k in names:
        pg.partial_corr(df, x=k, y="nep", covar=[o for o in names if o != k])


PEERS = {
    # statistic of nep_core -> (peer label, what the peer computes per pixel)
    "sen_mk": [("pymannkendall.original_test", "S, Var(S), Z, p, tau, Sen slope (no CI)"),
               ("scipy.stats.theilslopes + kendalltau", "Sen slope with CI, tau-b and its p")],
    "cv": [("numpy std / mean per pixel", "population SD over mean")],
    "hurst_rs prefix": [("Hurst R/S loop (numpy polyfit)", "the METHODS 'prefix' estimator, one pixel at a time")],
    "partial_corr (3 drivers)": [("pingouin.partial_corr x 3", "r and p of each driver given the other two")],
}


def bench_peers(nep, drivers, sample: int = 1000) -> dict:
    """Time each per-pixel loop peer on the first ``sample`` pixels (pingouin on a tenth of them).

    Returns {peer label: (px/s, pixels timed)}."""
    import pandas as pd
    import pymannkendall as mk
    from scipy import stats as ss

    y = nep.isel(pixel=slice(0, sample)).values.astype(float)
    dv = {k: v.isel(pixel=slice(0, sample)).values.astype(float) for k, v in drivers.items()}
    t = np.arange(y.shape[1], dtype=float) + 2000
    out = {}

    def loop(label, func, rows):
        t0 = time.perf_counter()
        for i in range(rows):
            func(i)
        dt = time.perf_counter() - t0
        out[label] = (rows / dt, rows)
        print(f"{label:<40s} {dt:8.2f} s   {rows / dt:12,.0f} px/s  ({rows:,} px)", flush=True)

    loop("pymannkendall.original_test", lambda i: mk.original_test(y[i]), sample)

    def scipy_pair(i):
        ss.theilslopes(y[i], t, alpha=0.95)
        ss.kendalltau(t, y[i])

    loop("scipy.stats.theilslopes + kendalltau", scipy_pair, sample)
    loop("numpy std / mean per pixel", lambda i: np.std(y[i]) / np.mean(y[i]), sample)
    loop("Hurst R/S loop (numpy polyfit)", lambda i: _hurst_prefix_loop(y[i]), sample)
    names = list(dv)
    frames = [pd.DataFrame({"nep": y[i], **{k: dv[k][i] for k in names}}) for i in range(max(1, sample // 10))]
    loop("pingouin.partial_corr x 3", lambda i: _pingouin_three(frames[i], names), len(frames))
    return out


def memory_bandwidth(nbytes: int = 400_000_000, repeats: int = 3) -> float:
    """Best-of-``repeats`` single-threaded copy bandwidth (GB/s: bytes read + written per second)."""
    a = np.ones(nbytes // 8)
    b = np.empty_like(a)
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.copyto(b, a)
        best = min(best, time.perf_counter() - t0)
    return 2 * a.nbytes / best / 1e9


# bytes per pixel each statistic reads (24 float32 years per variable) and writes (float64 / int outputs)
BYTES_PER_PIXEL = {
    "sen_mk": (96, 9 * 8 + 2 + 1),
    "cv": (96, 8 + 1 + 4),
    "hurst_rs prefix": (96, 8 + 1),
    "partial_corr (3 drivers)": (4 * 96, 6 * 8 + 1),
}
# operations per pixel (n = 24): pairs = n(n-1)/2 = 276 slopes + S; three quickselects over them
# (~2.5 x 276 + 2 x 2.5 x 138 element moves); cv: 2n; hurst prefix: n cumulative passes of n
# (sum_tau 3 tau ~ 900) and a 23-point fit; partial_corr: 4x4 covariance (10 n products) + inverse
OPS_PER_PIXEL = {"sen_mk": 276 * 3 + 2.5 * 276 + 5 * 138, "cv": 2 * 24, "hurst_rs prefix": 3 * 300 + 60,
                 "partial_corr (3 drivers)": 10 * 24 + 64}


def _machine() -> dict:
    import os
    import platform

    import dask
    import numba

    info = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "cpus": os.cpu_count(),
            "python": platform.python_version(), "numpy": np.__version__, "numba": numba.__version__,
            "dask": dask.__version__, "platform": platform.platform()}
    try:
        text = open("/proc/cpuinfo").read()
        info["cpu_model"] = next(l.split(":", 1)[1].strip() for l in text.splitlines() if l.startswith("model name"))
        mhz = [float(l.split(":", 1)[1]) for l in text.splitlines() if l.startswith("cpu MHz")]
        info["cpu_mhz"] = round(max(mhz), 0) if mhz else None
        mem = open("/proc/meminfo").read().split("\n")[0].split()
        info["ram_gb"] = round(int(mem[1]) / 2**20, 1)
    except (OSError, StopIteration, ValueError, IndexError):
        pass   # not Linux: the report says "unknown"
    return info


def _run_stages(run_dir) -> "pd.DataFrame":
    """Per-stage seconds and peak RSS of a finished pipeline run (``<run_dir>/timings.json``)."""
    import json
    from pathlib import Path

    import pandas as pd

    from .errors import NepInputError

    run_dir = Path(run_dir)
    path = run_dir / "timings.json"
    if not path.exists():
        raise NepInputError(f"no timings.json; run `nep run --out {run_dir}` to completion first",
                            file=path)
    saved = json.loads(path.read_text())
    rows = [{"stage": k, "seconds": v["seconds"], "peak_rss_gb": v["peak_rss_gb"], "measured_at": v["at"]}
            for k, v in saved.items()]
    df = pd.DataFrame(rows)
    res_m, npix = None, None
    scen = run_dir / "scenario" / "scenario.json"
    results = run_dir / "results.nc"
    if results.exists():
        import xarray as xr

        with xr.open_dataset(results, engine="h5netcdf") as ds:
            res_m = float(ds.attrs.get("resolution_m", np.nan))
            npix = int((ds["province"].values > 0).sum())
    elif scen.exists():
        npix = json.loads(scen.read_text()).get("pixels_region")
    df.insert(0, "region_pixels", npix)
    df.insert(0, "resolution_m", res_m)
    df.loc[len(df)] = {"resolution_m": res_m, "region_pixels": npix, "stage": "total",
                       "seconds": round(df["seconds"].sum(), 3), "peak_rss_gb": df["peak_rss_gb"].max(),
                       "measured_at": ""}
    return df


def bench_report(out_dir="data/benchmarks", npix: int = 1_000_000, chunk: int = 125_000,
                 peer_sample: int = 1000, runs=(), seed: int = 20000101) -> dict:
    """Measure and write the benchmark report's inputs (read by the book's benchmark appendix).

    Writes, atomically, into ``out_dir``: ``statistics.csv`` (px/s of each statistic of nep_core, of
    its per-pixel loop peers on a subsample in the same run, and the ratio), ``stages.csv`` (per-stage
    wall time and peak memory of each finished pipeline run in ``runs``), ``machine.json``."""
    import json
    from pathlib import Path

    import pandas as pd

    from .store import write_text

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stages = [_run_stages(r) for r in runs]
    ours = bench_stats(npix, chunk, min(2000, npix), seed)
    nep, drivers = _cube(min(peer_sample, npix), min(peer_sample, npix), seed)
    peers = bench_peers(nep, drivers, min(peer_sample, npix))
    bw = memory_bandwidth()
    rows = []
    timed_as = {"sen_mk": "sen_mk (slope, CI, S, Var, Z, p)"}
    for stat, plist in PEERS.items():
        rate = npix / ours[timed_as.get(stat, stat)]
        read, written = BYTES_PER_PIXEL[stat]
        for label, what in plist:
            prate, n = peers[label]
            rows.append({"statistic": stat, "px_per_s": round(rate), "peer": label, "peer_computes": what,
                         "peer_px_per_s": round(prate, 1), "peer_pixels": n, "speedup": float(f"{rate / prate:.3g}"),
                         "bytes_per_px": read + written, "implied_GB_per_s": round(rate * (read + written) / 1e9, 3),
                         "ops_per_px": int(OPS_PER_PIXEL[stat])})
    stack = npix / ours["full stack (one dask graph)"]
    rows.append({"statistic": "full stack (sen_mk + cv + hurst_rs + partial_corr)", "px_per_s": round(stack),
                 "peer": "", "peer_computes": "", "peer_px_per_s": np.nan, "peer_pixels": 0,
                 "speedup": np.nan, "bytes_per_px": 4 * 96, "implied_GB_per_s": round(stack * 384 / 1e9, 3),
                 "ops_per_px": int(sum(OPS_PER_PIXEL.values()))})
    table = pd.DataFrame(rows)
    machine = _machine()
    machine.update(memory_copy_GB_per_s=round(bw, 2), pixels=npix, chunk=chunk, peer_sample=peer_sample,
                   input_generation_s=round(ours["input_s"], 3),
                   command=f"nep bench report --pixels {npix} --peer-sample {peer_sample}"
                           + "".join(f" --run {r}" for r in runs))
    write_text(table.to_csv(index=False), out / "statistics.csv")
    if stages:
        write_text(pd.concat(stages, ignore_index=True).to_csv(index=False), out / "stages.csv")
    write_text(json.dumps(machine, indent=1), out / "machine.json")
    print(f"memory copy bandwidth {bw:.1f} GB/s; report written to {out}/")
    return {"statistics": table, "stages": stages, "machine": machine}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nep_core.bench", description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=["stats", "report"])
    parser.add_argument("--pixels", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=125_000, help="pixels per dask chunk")
    parser.add_argument("--mk-sample", type=int, default=2000, help="pixels for the pymannkendall loop")
    parser.add_argument("--scheduler", default="threads", choices=["synchronous", "threads"],
                        help="dask scheduler (numba already parallelises inside a chunk)")
    parser.add_argument("--peer-sample", type=int, default=1000,
                        help="report: pixels for the per-pixel loop peers (pingouin on a tenth)")
    parser.add_argument("--run", action="append", default=[],
                        help="report: a finished `nep run --out DIR` whose per-stage timings to include "
                             "(repeat for 5 km and 500 m)")
    parser.add_argument("--out", default=None,
                        help="report: output directory (default: data/benchmarks of the book project "
                             "found from the current directory, else ./data/benchmarks)")
    args = parser.parse_args(argv)
    if args.pixels < 1 or args.chunk < 1 or args.mk_sample < 1 or args.peer_sample < 1:
        parser.error("--pixels, --chunk, --mk-sample and --peer-sample must be positive")
    if args.what == "report":
        out = args.out
        if out is None:
            from . import book
            from .errors import NepInputError

            try:
                out = book.project_root() / book.BENCH_DIR
            except NepInputError:
                out = "data/benchmarks"
        bench_report(out, args.pixels, min(args.chunk, args.pixels), args.peer_sample, args.run)
        return 0
    bench_stats(args.pixels, min(args.chunk, args.pixels), min(args.mk_sample, args.pixels),
                scheduler=args.scheduler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
