"""Zonal statistics: the hand-written bincount code (git revision OLD) against the flox route.

One run measures, each case in a fresh process (peak RSS is per process), each twice (after tiny
warm-up calls for the imports and numba compilation; ``seconds`` is the first full-size call, which
also validates the cell areas, ``seconds_again`` the same call again with the validated areas reused):

* ``tables-5km``: every zonal table of ``nep_core.pipeline.ZONAL_TABLES`` on the results of the
  default 5 km run (``nep run --out RUN`` first), with ``nep_core.tables`` using the old or the new
  ``zonal`` module; the tables of the two are compared (max relative difference).
* ``zonal_mean-500m``: yearly area-weighted mean per province (+ total row) of a (24, 4142, 6357)
  float32 dask cube (chunks 24 x 256 x 256, seeded ``dask.array.random``, NaN outside a 12 M-pixel
  region), 5 province codes as a numpy int8 map (as in the tables stage, which loads its maps).
* ``area_shares-500m``: area per land-cover class (7 codes) per province of numpy int8 maps.
* ``generate-500m``: the NaN-skipping sum of the same cube, i.e. the cost of generating it (a floor
  for ``zonal_mean-500m``).

Variants (``VARIANTS``): ``old``, the new module with each flox engine for the means, and
``flox-sums`` (the area sums through flox as well: the route not taken). The machine is shared:
the 1-minute load average at the start of each measurement is recorded with it.

Usage: ``python benchmarks/zonal_flox.py --run /tmp/zonal-run --out data/benchmarks/zonal.csv``
"""
from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OLD = "62af9e5"                          # last revision with the hand-written bincount reductions
#: per case: "old" = git revision OLD; an engine name = the new module with that flox engine for the
#: means (area sums by numpy.bincount per block); "flox-sums" = engine "flox" and the area sums of
#: area_shares / transition_matrix through flox.groupby_reduce too (the route not taken)
VARIANTS = {"tables-5km": ("old", "numpy", "flox", "numbagg", "flox-sums"),
            "zonal_mean-500m": ("old", "numpy", "flox", "numbagg"),
            "area_shares-500m": ("old", "flox", "flox-sums"),
            "generate-500m": ("old",)}
SHAPE = (24, 4142, 6357)
SEED = 20261202


def _zonal(variant: str):
    """The old module (from git) or the new one with its flox engine set to ``variant``."""
    if variant == "old":
        src = subprocess.run(["git", "-C", str(ROOT), "show", f"{OLD}:nep_core/zonal.py"],
                             capture_output=True, text=True, check=True).stdout
        spec = importlib.util.spec_from_loader("nep_core._zonal_old", loader=None)
        mod = importlib.util.module_from_spec(spec)
        mod.__package__ = "nep_core"
        exec(compile(src, "zonal_old.py", "exec"), mod.__dict__)
        return mod
    from nep_core import zonal
    zonal.ENGINE = "flox" if variant == "flox-sums" else variant
    if variant == "flox-sums":
        zonal._bincount_sums = lambda v, s, n: zonal._group_sums(v, s, n, axis=tuple(range(v.ndim)))
    return zonal


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _timed(fn):
    """Seconds, peak RSS (GB) while ``fn`` runs, and the RSS (GB) before it (10 ms sampler)."""
    before, peak, stop = _rss(), [0], threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], _rss())
            time.sleep(0.01)

    t = threading.Thread(target=sample)
    t.start()
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    stop.set()
    t.join()
    return out, dt, max(peak[0], _rss()) / 1e9, before / 1e9


def _synthetic():
    import dask.array as dsa
    import numpy as np
    import xarray as xr

    nt, ny, nx = SHAPE
    yy, xx = np.ogrid[:ny, :nx]
    inside = ((yy - ny / 2) / 1600) ** 2 + ((xx - nx / 2) / 2400) ** 2 < 1      # ~12.06 M pixels
    province = np.where(inside, 1 + np.minimum(xx * 5 // nx, 4), 0).astype(np.int8)
    rng = np.random.default_rng(SEED)
    lc = np.where(inside, rng.integers(1, 8, (ny, nx), dtype=np.int8), 0).astype(np.int8)
    area = 0.25 + 0.01 * np.cos(np.linspace(0, 1, ny))[:, None] * np.ones((1, nx))
    cube = dsa.random.default_rng(SEED).random(SHAPE, dtype=np.float32, chunks=(nt, 256, 256))
    inside_d = dsa.from_array(inside, chunks=(256, 256))
    cube = dsa.where(inside_d[None], cube * 400 - 100, np.float32(np.nan))
    dims = ("y", "x")
    return (xr.DataArray(cube, dims=("year", *dims), coords={"year": np.arange(2000, 2000 + nt)},
                         attrs={"units": "g C m-2 a-1"}),
            xr.DataArray(province, dims=dims), xr.DataArray(lc, dims=dims),
            xr.DataArray(area, dims=dims, attrs={"units": "km2"}))


def _tables(run: str, zonal):
    from nep_core import pipeline, tables
    from nep_core.config import Config

    res = pipeline.results(Config(out_dir=run))
    tables.zonal = zonal

    def compute():
        tables.study._SERIES_MEMO.clear()                # every series is computed again
        return {n: getattr(tables, n)(res, null=res.tables["hurst_null"]) if n == "hurst_summary"
                else getattr(tables, n)(res) for n in pipeline.ZONAL_TABLES}
    return compute


def child(case: str, variant: str, run: str, dump: str | None):
    import pickle

    zonal = _zonal(variant)
    if case == "tables-5km":
        fn = _tables(run, zonal)
    else:
        cube, province, lc, area = _synthetic()
        names = {1: "p1", 2: "p2", 3: "p3", 4: "p4", 5: "p5"}
        fn = {"zonal_mean-500m": lambda: zonal.zonal_mean(cube, area, province, names=names, total="all"),
              "area_shares-500m": lambda: zonal.area_shares(lc, area, groups=province, codes=range(1, 8),
                                                            group_names=names),
              "generate-500m": lambda: float(cube.sum(skipna=True))}[case]
    _warm_up(zonal)
    out, seconds, peak, before = _timed(fn)
    _, again, peak2, _ = _timed(fn)
    if dump:
        with open(dump, "wb") as f:
            pickle.dump(out, f)
    print(json.dumps({"seconds": seconds, "seconds_again": again, "peak_rss_gb": max(peak, peak2),
                      "rss_before_gb": before}))


def _warm_up(zonal):
    """Tiny calls first: imports and numba compilation are not part of the measurement."""
    import numpy as np
    import xarray as xr

    rng = np.random.default_rng(0)
    x = xr.DataArray(rng.random((3, 4, 5)), dims=("year", "y", "x"), coords={"year": [1, 2, 3]})
    g = xr.DataArray(rng.integers(1, 3, (4, 5)), dims=("y", "x"))
    zonal.zonal_mean(x, np.ones((4, 5)), g, total="all")
    zonal.zonal_mean(x.chunk({"y": 2}), np.ones((4, 5)), g)
    zonal.area_shares(g, np.ones((4, 5)), groups=g)
    zonal.transition_matrix(g, g, np.ones((4, 5)))


def _max_rel_diff(a: dict, b: dict) -> float:
    import numpy as np
    import pandas as pd

    worst = 0.0
    for name in a:
        x, y = a[name], b[name]
        if not isinstance(x, pd.DataFrame):
            continue
        pd.testing.assert_index_equal(x.columns, y.columns)
        pd.testing.assert_index_equal(x.index, y.index)
        for col in x.columns:
            u, v = x[col].to_numpy(), y[col].to_numpy()
            if u.dtype.kind not in "fiu":
                assert (u == v).all(), (name, col)
                continue
            u, v = u.astype(float), v.astype(float)
            assert (np.isnan(u) == np.isnan(v)).all(), (name, col)
            ok = ~np.isnan(u) & (u != v)
            if ok.any():
                worst = max(worst, float(np.max(np.abs(u[ok] - v[ok]) / np.maximum(np.abs(u[ok]), 1e-300))))
    return worst


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default="/tmp/zonal-run", help="output directory of `nep run` (5 km)")
    ap.add_argument("--out", default=str(ROOT / "data" / "benchmarks" / "zonal.csv"))
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--cases", default="tables-5km,zonal_mean-500m,area_shares-500m,generate-500m")
    ap.add_argument("--child", nargs=3, metavar=("CASE", "VARIANT", "DUMP"))
    args = ap.parse_args()
    if args.child:
        case, variant, dump = args.child
        return child(case, variant, args.run, None if dump == "-" else dump)

    import pickle
    import tempfile

    rows, loads = [], []
    tmp = Path(tempfile.mkdtemp(prefix="zonal-bench-"))
    for case in args.cases.split(","):
        variants = [v for v in VARIANTS[case] if v != "numbagg" or importlib.util.find_spec("numbagg")]
        for rep in range(args.repeats):
            for variant in variants:                      # alternate the variants within a repeat
                dump = tmp / f"{case}-{variant}.pkl" if (case == "tables-5km" and rep == 0) else "-"
                loads.append(os.getloadavg()[0])
                p = subprocess.run([sys.executable, __file__, "--run", args.run, "--child", case, variant,
                                    str(dump)], capture_output=True, text=True)
                if p.returncode:
                    sys.exit(f"{case} {variant} failed:\n{p.stderr[-3000:]}")
                m = json.loads(p.stdout.strip().splitlines()[-1])
                rows.append({"case": case, "variant": variant, "repeat": rep + 1,
                             **{k: round(v, 3) for k, v in m.items()}, "load_1min": round(loads[-1], 2)})
                print(rows[-1], flush=True)
    diff = {}
    if (tmp / "tables-5km-old.pkl").exists():
        old = pickle.loads((tmp / "tables-5km-old.pkl").read_bytes())
        for variant in VARIANTS["tables-5km"][1:]:
            if not (tmp / f"tables-5km-{variant}.pkl").exists():
                continue
            new = pickle.loads((tmp / f"tables-5km-{variant}.pkl").read_bytes())
            diff[variant] = _max_rel_diff(old, new)
        print("max relative difference of the 5 km tables, new vs old:", diff)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=[*rows[0], "max_rel_diff_vs_old"])
        w.writeheader()
        for r in rows:
            w.writerow({**r, "max_rel_diff_vs_old": diff.get(r["variant"], "")
                        if r["case"] == "tables-5km" else ""})
    print(f"wrote {out}; load averages at the starts: {min(loads):.2f}..{max(loads):.2f}")


if __name__ == "__main__":
    main()
