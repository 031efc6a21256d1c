"""Compare two pipeline output directories: results.nc variable by variable, and tables/*.csv.

    python benchmarks/compare_results.py BEFORE_DIR AFTER_DIR [--rtol 1e-12]

results.nc: every variable's dims, dtype and values must be identical (NaN equal to NaN) and its
attributes equal; tables: numeric cells equal within ``rtol``, text cells identical. Prints one line
per difference and exits 1 if there is any.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr


def _norm(attrs: dict) -> dict:
    """Attributes with ``source_files`` reduced to file names (the runs live in different directories)."""
    out = dict(attrs)
    if "source_files" in out:
        out["source_files"] = ", ".join(Path(p.strip()).name for p in str(out["source_files"]).split(","))
    return out


def _attrs_equal(a: dict, b: dict) -> bool:
    a, b = _norm(a), _norm(b)
    if a.keys() != b.keys():
        return False
    return all(np.array_equal(np.asarray(a[k]), np.asarray(b[k]))
               and np.asarray(a[k]).dtype.kind == np.asarray(b[k]).dtype.kind
               and np.asarray(a[k]).dtype.itemsize == np.asarray(b[k]).dtype.itemsize for k in a)


def compare_stores(before: Path, after: Path) -> list[str]:
    out = []
    with xr.open_dataset(before, engine="h5netcdf") as a, xr.open_dataset(after, engine="h5netcdf") as b:
        for name in sorted(set(a.variables) | set(b.variables)):
            if name not in a.variables or name not in b.variables:
                out.append(f"results.nc {name}: only in {'after' if name in b.variables else 'before'}")
                continue
            va, vb = a[name], b[name]
            if va.dims != vb.dims or va.dtype != vb.dtype:
                out.append(f"results.nc {name}: {va.dims} {va.dtype} vs {vb.dims} {vb.dtype}")
            elif not np.array_equal(va.values, vb.values, equal_nan=va.dtype.kind in "fc"):
                diff = np.abs(va.values.astype(float) - vb.values.astype(float))
                out.append(f"results.nc {name}: values differ at {int(np.sum(diff > 0))} cells, "
                           f"max |diff| {np.nanmax(diff):.3g}")
            if not _attrs_equal(va.attrs, vb.attrs):
                na, nb = _norm(va.attrs), _norm(vb.attrs)
                keys = sorted(k for k in set(na) | set(nb)
                              if not np.array_equal(np.asarray(na.get(k)), np.asarray(nb.get(k))))
                out.append(f"results.nc {name}: attributes differ: {keys}")
    return out


def compare_tables(before: Path, after: Path, rtol: float) -> list[str]:
    out = []
    names = sorted({p.name for p in before.glob("*.csv")} | {p.name for p in after.glob("*.csv")})
    for name in names:
        if not (before / name).exists() or not (after / name).exists():
            out.append(f"tables/{name}: only in {'after' if (after / name).exists() else 'before'}")
            continue
        a, b = pd.read_csv(before / name), pd.read_csv(after / name)
        if a.shape != b.shape or list(a.columns) != list(b.columns):
            out.append(f"tables/{name}: shape/columns {a.shape} vs {b.shape}")
            continue
        for col in a.columns:
            x, y = a[col], b[col]
            if pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y):
                if not np.allclose(x, y, rtol=rtol, atol=0, equal_nan=True):
                    rel = np.nanmax(np.abs(x - y) / np.maximum(np.abs(x), 1e-300))
                    out.append(f"tables/{name} [{col}]: max relative difference {rel:.3g}")
            elif not x.equals(y):
                out.append(f"tables/{name} [{col}]: text differs")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--rtol", type=float, default=1e-12, help="relative tolerance of table cells")
    args = ap.parse_args(argv)
    diffs = compare_stores(args.before / "results.nc", args.after / "results.nc")
    diffs += compare_tables(args.before / "tables", args.after / "tables", args.rtol)
    print("\n".join(diffs) if diffs else "identical: results.nc values, dtypes and attributes; tables within rtol")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
