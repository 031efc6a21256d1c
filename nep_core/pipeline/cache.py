"""The stage cache: one directory per stage and key, written atomically; inputs keyed by content.

``<out>/.stages/<stage>-<key>/`` holds ``data.zarr`` (the stage's Dataset), ``<name>.csv`` (its
tables), ``<name>.nc`` (small side Datasets) and ``manifest.json`` (size and BLAKE2b hash of every
file), written last. A cached artefact is used only when every listed file checks; otherwise the run
warns ``stage <name>: <file> is damaged (<why>); recomputing``. File hashes are memoised in
``input-hashes.json`` by (resolved path, size, mtime, ctime, inode). ARCHITECTURE.md ("Pipeline
stages and caching") gives the whole contract.
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

from ..errors import NepInputError, warn
from ..store import atomic_path, enough_space, open_zarr, write_netcdf, write_text, write_zarr

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
        self._memo_dirty = False

    def get(self, stage: str, key: str, compute) -> Artefact:
        """The artefact of ``stage`` under ``key``: computed (``compute()`` -> Artefact) and written if
        absent or damaged, then opened (the Dataset lazily, in its stored chunks)."""
        path = self.dir / f"{stage}-{key}"
        if path.exists():                      # damaged or not: _open checks the manifest
            try:
                art = self._open(path)
                self.hits.append(stage)
                return art
            except _Damaged as exc:
                warn(f"stage {stage}: {exc.file} is damaged ({exc.why}); recomputing")
            except Exception as exc:          # whatever opening a cached artefact raises: recompute
                warn(f"stage {stage}: {path.name} is damaged (opening it raised "
                     f"{type(exc).__name__}: {exc}); recomputing")
        self.misses.append(stage)
        art = compute()
        need = sum(x.nbytes for x in [art.ds, *art.side.values()] if x is not None)
        with enough_space(f"stage {stage}", self.dir, need), atomic_path(path, directory=True) as tmp:
            if art.ds is not None:
                write_zarr(art.ds, tmp / "data.zarr", self.chunks)
            for name, df in art.tables.items():
                df.to_csv(tmp / f"{name}.csv", index=False)
            for name, ds in art.side.items():
                write_netcdf(ds, tmp / f"{name}.nc", self.chunks)
            files = {str(p.relative_to(tmp)): [p.stat().st_size, _hash_file(p)]
                     for p in sorted(tmp.rglob("*")) if p.is_file()}
            (tmp / MANIFEST).write_text(json.dumps({"stage": stage, "key": key, "files": files}))
        for rel, (_, digest) in files.items():   # the files just hashed need no rehash on the next read
            self._memo[os.path.realpath(path / rel)] = [_stamp(path / rel), digest]
        self._memo_dirty = True
        self._prune(stage, path)
        self._save_memo()
        return self._open(path)

    def _open(self, path: Path) -> Artefact:
        """The artefact at ``path`` once every file of its manifest checks; :class:`_Damaged` if not."""
        try:
            manifest = json.loads((path / MANIFEST).read_text())
            files = manifest["files"]
            if not isinstance(files, dict):
                raise _Damaged(MANIFEST, "no checksums: written by an older nep_core")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise _Damaged(MANIFEST, f"unreadable: {type(exc).__name__}: {exc}") from exc
        for rel, (size, digest) in files.items():
            p = path / rel
            if not p.is_file():
                raise _Damaged(rel, "missing")
            if p.stat().st_size != size:
                raise _Damaged(rel, f"{p.stat().st_size} bytes, {size} written")
            if self._hash(p) != digest:
                raise _Damaged(rel, "checksum differs from the manifest")
        self._save_memo()
        top = [Path(rel) for rel in files if "/" not in rel]
        return Artefact(
            ds=open_zarr(path / "data.zarr") if "data.zarr/zarr.json" in files else None,
            tables={p.stem: pd.read_csv(path / p) for p in top if p.suffix == ".csv"},
            side={p.stem: xr.load_dataset(path / p, engine="h5netcdf") for p in top if p.suffix == ".nc"})

    def _prune(self, stage: str, keep: Path):
        for old in self.dir.glob(f"{stage}-{'?' * 16}"):
            if old != keep:
                shutil.rmtree(old, ignore_errors=True)
                gone = os.path.realpath(old) + os.sep
                for p in [p for p in self._memo if p.startswith(gone)]:
                    del self._memo[p]

    def fingerprint(self, pattern: str | None) -> list:
        """(resolved path, BLAKE2b of the content) of every file a path or glob names; a missing input
        is an error. Paths inside the output directory (the scenario's) are relative to it, so a
        copied run directory keeps its keys."""
        if pattern is None:
            return []
        paths = sorted(glob.glob(os.path.expanduser(str(pattern))))
        if not paths:
            raise NepInputError("no file matches this path or pattern", file=pattern)
        out = []
        for p in paths:
            real = os.path.realpath(p)
            inside = Path(real).is_relative_to(self.dir.parent.resolve())
            out.append((os.path.relpath(real, self.dir.parent) if inside else real, self._hash(real)))
        self._save_memo()
        return out

    def _hash(self, path) -> str:
        """BLAKE2b of the file at ``path``, memoised by (resolved path, size, mtime, ctime, inode)."""
        real = os.path.realpath(path)
        stamp = _stamp(real)
        memo = self._memo.get(real)
        if memo is None or memo[0] != stamp:
            memo = self._memo[real] = [stamp, _hash_file(real)]
            self._memo_dirty = True
        return memo[1]

    def _save_memo(self):
        """Rewrite the memo only when a file was (re)hashed."""
        if self._memo_dirty:
            write_text(json.dumps(self._memo), self._memo_path)
            self._memo_dirty = False


class _Damaged(Exception):
    """A cached artefact's ``file`` is not as its manifest says (``why``)."""

    def __init__(self, file: str, why: str):
        super().__init__(f"{file}: {why}")
        self.file, self.why = file, why


def _stamp(path) -> list:
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def _hash_file(path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, lambda: hashlib.blake2b(digest_size=16)).hexdigest()
