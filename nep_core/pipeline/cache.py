"""The stage cache: one directory per stage and key, written atomically; inputs keyed by content.

``<out>/.stages/<stage>-<key>/`` holds what a stage produced: ``data.zarr`` (its Dataset),
``<name>.csv`` (its tables) and ``<name>.nc`` (small side Datasets), and ``manifest.json``, written
last inside the directory before the directory is renamed into place. A directory without its
manifest is not a cached stage. The key hashes the stage's name, the pipeline version, the keys of
the stages it reads, the parameters it depends on and the content of its input files.
"""
from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import xarray as xr

from ..errors import NepInputError
from ..store import atomic_path, open_zarr, write_netcdf, write_text, write_zarr

STAGE_DIR = ".stages"
MANIFEST = "manifest.json"
HASH_MEMO = "input-hashes.json"


def key(*parts) -> str:
    """A 16-hex-digit hash of JSON-serialisable ``parts``."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass
class Artefact:
    """What a stage produced: a Dataset (Zarr), tables (CSV) and small side Datasets (NetCDF)."""

    ds: xr.Dataset | None = None
    tables: dict = field(default_factory=dict)
    side: dict = field(default_factory=dict)


class Cache:
    """Stage directories under ``out_dir/.stages``; older keys of a stage are removed once a new one lands."""

    def __init__(self, out_dir: Path, chunk_xy: int):
        self.dir = Path(out_dir) / STAGE_DIR
        self.chunks = {"y": chunk_xy, "x": chunk_xy}
        self.dir.mkdir(parents=True, exist_ok=True)
        self.hits: list[str] = []
        self.misses: list[str] = []
        self._memo_path = self.dir / HASH_MEMO
        try:
            self._memo = json.loads(self._memo_path.read_text())
        except (OSError, ValueError):
            self._memo = {}

    def path(self, stage: str, key: str) -> Path:
        return self.dir / f"{stage}-{key}"

    def get(self, stage: str, key: str, compute, chunks: dict | None = None) -> Artefact:
        """The artefact of ``stage`` under ``key``: computed (``compute()`` -> Artefact) and written if
        absent, then opened (the Dataset lazily, with dask ``chunks``)."""
        path = self.path(stage, key)
        if (path / MANIFEST).exists():
            self.hits.append(stage)
        else:
            self.misses.append(stage)
            art = compute()
            with atomic_path(path, directory=True) as tmp:
                if art.ds is not None:
                    write_zarr(art.ds, tmp / "data.zarr", self.chunks)
                for name, df in art.tables.items():
                    df.to_csv(tmp / f"{name}.csv", index=False)
                for name, ds in art.side.items():
                    write_netcdf(ds, tmp / f"{name}.nc", self.chunks)
                files = sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*") if p.is_file())
                (tmp / MANIFEST).write_text(json.dumps({"stage": stage, "key": key, "files": files}))
            self._prune(stage, path)
        return Artefact(
            ds=open_zarr(path / "data.zarr", chunks) if (path / "data.zarr").exists() else None,
            tables={p.stem: pd.read_csv(p) for p in sorted(path.glob("*.csv"))},
            side={p.stem: _load(p) for p in sorted(path.glob("*.nc"))})

    def _prune(self, stage: str, keep: Path):
        for old in self.dir.glob(f"{stage}-{'?' * 16}"):
            if old != keep:
                shutil.rmtree(old, ignore_errors=True)

    def fingerprint(self, pattern: str | None) -> list:
        """(path, content hash) of every file a path or glob names; a missing input is an error.

        The path is the resolved one, relative to the output directory for inputs inside it (the
        synthetic scenario), so a copied run directory keeps its keys. Content is hashed (BLAKE2b of
        the bytes); the hash is memoised by (resolved path, size, mtime, inode), so an unchanged input
        is read once, not at every run.
        """
        if pattern is None:
            return []
        paths = sorted(glob.glob(os.path.expanduser(str(pattern))))
        if not paths:
            raise NepInputError("no file matches this path or pattern", file=pattern)
        out, hashed = [], False
        for p in paths:
            real = os.path.realpath(p)
            st = os.stat(real)
            stamp = [st.st_size, st.st_mtime_ns, st.st_ino]
            memo = self._memo.get(real)
            if memo is None or memo[0] != stamp:
                memo = self._memo[real] = [stamp, _hash_file(real)]
                hashed = True
            inside = Path(real).is_relative_to(self.dir.parent.resolve())
            out.append((os.path.relpath(real, self.dir.parent) if inside else real, memo[1]))
        if hashed:     # the memo is rewritten only when a file was (re)hashed
            write_text(json.dumps(self._memo), self._memo_path)
        return out


def _hash_file(path: str) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 24):
            h.update(chunk)
    return h.hexdigest()


def _load(path: Path) -> xr.Dataset:
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        return ds.load()
