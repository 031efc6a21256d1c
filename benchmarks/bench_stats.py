"""Benchmark of the per-pixel statistics: ``python -m benchmarks.bench_stats [--pixels N]``.

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


def cube(npix: int, chunk: int, seed: int):
    """(nep, {"tmean", "prcp", "rad"}): seeded lazy float32 DataArrays of ``npix`` x 24 years."""
    import dask
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
            lazy = dask.delayed(block, pure=True)(b, size, kind)
            blocks.append(dsa.from_delayed(lazy, (size, n), np.float32))
        arr = dsa.concatenate(blocks, axis=0)
        return xr.DataArray(arr, dims=("pixel", "year"), coords={"year": years},
                            attrs={"units": "g C m-2 a-1"}, name=f"v{kind}")

    return var(0), {"tmean": var(1), "prcp": var(2), "rad": var(3)}


def _time(label, func, npix, results):
    t0 = time.perf_counter()
    func()
    dt = time.perf_counter() - t0
    results[label] = dt
    print(f"{label:<34s} {dt:8.2f} s   {npix / dt:12,.0f} px/s", flush=True)
    return dt


def bench_stats(npix: int = 1_000_000, chunk: int = 125_000, mk_sample: int = 2000,
                seed: int = 20000101, scheduler: str = "threads") -> dict:
    """Run the benchmark; returns seconds per timed label and the derived rates. ``scheduler``: dask
    "threads" (default) or "synchronous" (the numba kernels already use all cores inside a chunk)."""
    import dask
    import pymannkendall as mk

    from nep_core import stats

    nep, drivers = cube(npix, chunk, seed)
    print(f"cube: {npix:,} pixels x 24 years float32, dask chunks of {chunk:,} pixels "
          f"({chunk * 24 * 4 / 2**20:.0f} MiB per variable chunk)")
    # warm-up: compile / load the numba kernels outside the timings
    small = nep.isel(pixel=slice(0, 256)).compute()
    stats.sen_mk(small).compute()
    stats.cv(small).compute()
    stats.hurst_rs(small).compute()
    stats.partial_corr(small, {k: v.isel(pixel=slice(0, 256)).compute()
                               for k, v in drivers.items()}).compute()
    # the input generation itself, to subtract
    res: dict[str, float] = {}
    with dask.config.set(scheduler=scheduler):
        t_in = _time("input generation only",
                     lambda: dask.compute(nep.data.sum(), *(d.data.sum() for d in drivers.values())),
                     npix, res)
        nep1 = nep.data.sum()
        t_nep = _time("  (nep input only)", lambda: nep1.compute(), npix, res)
        t_sen = _time("sen_mk (slope, CI, S, Var, Z, p)", lambda: stats.sen_mk(nep).compute(), npix, res)
        _time("cv", lambda: stats.cv(nep).compute(), npix, res)
        _time("hurst_rs prefix", lambda: stats.hurst_rs(nep).compute(), npix, res)
        _time("partial_corr (3 drivers)", lambda: stats.partial_corr(nep, drivers).compute(), npix, res)

        def stack():
            dask.compute(stats.sen_mk(nep), stats.cv(nep), stats.hurst_rs(nep),
                         stats.partial_corr(nep, drivers))

        t_all = _time("full stack (one dask graph)", stack, npix, res)
    sub = nep.isel(pixel=slice(0, mk_sample)).values
    t0 = time.perf_counter()
    for row in sub:
        mk.original_test(row)
    t_mk = time.perf_counter() - t0
    mk_rate = mk_sample / t_mk
    print(f"{'pymannkendall.original_test loop':<34s} {t_mk:8.2f} s   {mk_rate:12,.0f} px/s  "
          f"({mk_sample:,} px)")
    sen_rate = npix / t_sen
    sen_rate_net = npix / max(t_sen - t_nep, 1e-9)
    print(f"sen_mk / pymannkendall speed-up: {sen_rate / mk_rate:,.0f}x (input generation of the nep "
          f"variable, {t_nep:.2f} s, included; {sen_rate_net / mk_rate:,.0f}x without)")
    print(f"full stack: {npix / t_all:,.0f} px/s (input generation of 4 variables, {t_in:.2f} s, "
          f"included; {npix / max(t_all - t_in, 1e-9):,.0f} px/s without)")
    res.update(mk_rate=mk_rate, sen_speedup=sen_rate / mk_rate, stack_rate=npix / t_all, npix=npix,
               input_s=t_in, nep_input_s=t_nep)
    return res


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_stats",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--pixels", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=125_000, help="pixels per dask chunk")
    parser.add_argument("--mk-sample", type=int, default=2000, help="pixels for the pymannkendall loop")
    parser.add_argument("--scheduler", default="threads", choices=["synchronous", "threads"],
                        help="dask scheduler (numba already parallelises inside a chunk)")
    args = parser.parse_args(argv)
    if args.pixels < 1 or args.chunk < 1 or args.mk_sample < 1:
        parser.error("--pixels, --chunk and --mk-sample must be positive")
    bench_stats(args.pixels, min(args.chunk, args.pixels), min(args.mk_sample, args.pixels),
                scheduler=args.scheduler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
