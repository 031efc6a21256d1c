"""Measure and write the benchmark report the book's appendix D shows (``data/benchmarks/``):

    python -m benchmarks.report [--pixels N] [--peer-sample N] [--run DIR ...] [--out DIR]

``statistics.csv``: pixels per second of each statistic of nep_core (:mod:`benchmarks.bench_stats`)
and of its per-pixel loop peers timed in the same run on a subsample, and their ratio;
``stages.csv``: per-stage wall time and peak memory of each finished ``nep run --out DIR`` given
with ``--run``; ``machine.json``: the machine, versions, sizes, copy bandwidth and the command.
:mod:`benchmarks.appendix` reads them back. Not a test: it prints and writes figures.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.bench_stats import bench_stats, cube
from nep_core.errors import NepInputError

#: Default output: ``data/benchmarks`` of this repository.
BENCH_DIR = Path(__file__).resolve().parents[1] / "data" / "benchmarks"

PEERS = {
    # statistic of nep_core -> (peer label, what the peer computes per pixel)
    "sen_mk": [("pymannkendall.original_test", "S, Var(S), Z, p, tau, Sen slope (no CI)"),
               ("scipy.stats.theilslopes + kendalltau", "Sen slope with CI, tau-b and its p")],
    "cv": [("numpy std / mean per pixel", "population SD over mean")],
    "hurst_rs prefix": [("Hurst R/S loop (numpy polyfit)",
                         "the METHODS 'prefix' estimator, one pixel at a time")],
    "partial_corr (3 drivers)": [("pingouin.partial_corr x 3", "r and p of each driver given the other two")],
}

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


def bench_peers(nep, drivers, sample: int = 1000) -> dict:
    """Time each per-pixel loop peer on the first ``sample`` pixels (pingouin on a tenth of them).

    Returns {peer label: (px/s, pixels timed)}."""
    import pingouin as pg
    import pymannkendall as mk
    from scipy import stats as ss

    from tests.oracles import hurst_prefix

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

    def scipy_pair(i):
        ss.theilslopes(y[i], t, alpha=0.95)
        ss.kendalltau(t, y[i])

    names = list(dv)
    frames = [pd.DataFrame({"nep": y[i], **{k: dv[k][i] for k in names}})
              for i in range(max(1, sample // 10))]

    def pingouin_three(i):
        for k in names:
            pg.partial_corr(frames[i], x=k, y="nep", covar=[o for o in names if o != k])

    loop("pymannkendall.original_test", lambda i: mk.original_test(y[i]), sample)
    loop("scipy.stats.theilslopes + kendalltau", scipy_pair, sample)
    loop("numpy std / mean per pixel", lambda i: np.std(y[i]) / np.mean(y[i]), sample)
    loop("Hurst R/S loop (numpy polyfit)", lambda i: hurst_prefix(y[i]), sample)
    loop("pingouin.partial_corr x 3", pingouin_three, len(frames))
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


def machine() -> dict:
    """Date, CPU count, model and clock, RAM and the versions that matter for the timings."""
    import dask
    import numba

    info = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "cpus": os.cpu_count(),
            "python": platform.python_version(), "numpy": np.__version__, "numba": numba.__version__,
            "dask": dask.__version__, "platform": platform.platform()}
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        info["cpu_model"] = next(ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name"))
        mhz = [float(ln.split(":", 1)[1]) for ln in lines if ln.startswith("cpu MHz")]
        info["cpu_mhz"] = round(max(mhz), 0) if mhz else None
        mem = Path("/proc/meminfo").read_text().split("\n")[0].split()
        info["ram_gb"] = round(int(mem[1]) / 2**20, 1)
    except (OSError, StopIteration, ValueError, IndexError):
        pass   # not Linux: the appendix shows what is known
    return info


def run_stages(run_dir) -> pd.DataFrame:
    """Per-stage seconds and peak RSS of a finished pipeline run (``<run_dir>/timings.json``), with
    its grid resolution and region pixel count, and a ``total`` row."""
    import xarray as xr

    run_dir = Path(run_dir)
    path = run_dir / "timings.json"
    if not path.exists():
        raise NepInputError(f"no timings.json; run `nep run --out {run_dir}` to completion first",
                            file=path)
    saved = json.loads(path.read_text())
    df = pd.DataFrame([{"stage": k, "seconds": v["seconds"], "peak_rss_gb": v["peak_rss_gb"],
                        "measured_at": v["at"]} for k, v in saved.items()])
    res_m, npix = None, None
    scen, results = run_dir / "scenario" / "scenario.json", run_dir / "results.nc"
    if results.exists():
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


def bench_report(out_dir=BENCH_DIR, npix: int = 1_000_000, chunk: int = 125_000,
                 peer_sample: int = 1000, runs=(), seed: int = 20000101) -> dict:
    """Measure, then write ``statistics.csv``, ``stages.csv`` (if ``runs``) and ``machine.json`` into
    ``out_dir`` (see the module docstring). Returns the three as written."""
    out = Path(out_dir)
    stages = [run_stages(r) for r in runs]    # fail on a missing run before measuring anything
    ours = bench_stats(npix, chunk, min(2000, npix), seed)
    nep, drivers = cube(min(peer_sample, npix), min(peer_sample, npix), seed)
    peers = bench_peers(nep, drivers, min(peer_sample, npix))
    bw = memory_bandwidth()
    rows = []
    timed_as = {"sen_mk": "sen_mk (slope, CI, S, Var, Z, p)"}
    for stat, plist in PEERS.items():
        rate = npix / ours[timed_as.get(stat, stat)]
        moved = sum(BYTES_PER_PIXEL[stat])
        for label, what in plist:
            prate, n = peers[label]
            rows.append({"statistic": stat, "px_per_s": round(rate), "peer": label, "peer_computes": what,
                         "peer_px_per_s": round(prate, 1), "peer_pixels": n,
                         "speedup": float(f"{rate / prate:.3g}"), "bytes_per_px": moved,
                         "implied_GB_per_s": round(rate * moved / 1e9, 3),
                         "ops_per_px": int(OPS_PER_PIXEL[stat])})
    stack = npix / ours["full stack (one dask graph)"]
    rows.append({"statistic": "full stack (sen_mk + cv + hurst_rs + partial_corr)", "px_per_s": round(stack),
                 "peer": "", "peer_computes": "", "peer_px_per_s": np.nan, "peer_pixels": 0,
                 "speedup": np.nan, "bytes_per_px": 4 * 96, "implied_GB_per_s": round(stack * 384 / 1e9, 3),
                 "ops_per_px": int(sum(OPS_PER_PIXEL.values()))})
    table = pd.DataFrame(rows)
    info = machine()
    info.update(memory_copy_GB_per_s=round(bw, 2), pixels=npix, chunk=chunk, peer_sample=peer_sample,
                input_generation_s=round(ours["input_s"], 3),
                command=f"python -m benchmarks.report --pixels {npix} --peer-sample {peer_sample}"
                        + "".join(f" --run {r}" for r in runs))
    # all measured: write the three files last (small, so a plain write)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "statistics.csv", index=False)
    if stages:
        pd.concat(stages, ignore_index=True).to_csv(out / "stages.csv", index=False)
    (out / "machine.json").write_text(json.dumps(info, indent=1))
    print(f"memory copy bandwidth {bw:.1f} GB/s; report written to {out}/")
    return {"statistics": table, "stages": stages, "machine": info}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report", description=__doc__.split("\n")[0])
    parser.add_argument("--pixels", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=125_000, help="pixels per dask chunk")
    parser.add_argument("--peer-sample", type=int, default=1000,
                        help="pixels for the per-pixel loop peers (pingouin on a tenth)")
    parser.add_argument("--run", action="append", default=[],
                        help="a finished `nep run --out DIR` whose per-stage timings to include "
                             "(repeat for 5 km and 500 m)")
    parser.add_argument("--out", default=str(BENCH_DIR), help="output directory (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.pixels < 1 or args.chunk < 1 or args.peer_sample < 1:
        parser.error("--pixels, --chunk and --peer-sample must be positive")
    try:
        bench_report(args.out, args.pixels, min(args.chunk, args.pixels), args.peer_sample, args.run)
    except NepInputError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
