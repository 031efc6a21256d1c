"""Atomic writes and stores: Zarr v3 stage stores, the CF NetCDF-4 results file, text files; lazily
sliced dask views of in-memory arrays. Every writer writes under a temporary name in the target's
directory and renames it into place; codecs and why: ARCHITECTURE.md ("Rules").
"""
from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import dask.array as dsa
import numpy as np
import xarray as xr

from .errors import NepEnvironmentError

#: stored chunk shape of 2-D and 3-D variables along y and x (time is never chunked)
CHUNK_XY = 256


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike, *, directory: bool = False):
    """Yield a temporary path next to ``final``; on success move it into place with ``os.replace``.

    On any exception the temporary is removed and ``final`` is left untouched (an earlier complete
    version, if any, survives). The temporary lives in the same directory, so the rename is atomic
    on POSIX file systems; a directory replaces an earlier one by two renames.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    if directory:
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    else:
        fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
        os.close(fd)
        tmp = Path(name)
    try:
        yield tmp
        _public(tmp)
        if directory and final.exists():
            old = final.with_name(f".{final.name}.old")
            if old.exists():
                shutil.rmtree(old)
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old)
        else:
            os.replace(tmp, final)
    except BaseException:
        if tmp.exists():
            shutil.rmtree(tmp) if tmp.is_dir() else tmp.unlink()
        raise


@contextlib.contextmanager
def enough_space(what: str, where: str | os.PathLike, need: float | None = None):
    """Turn "no space left on device" while writing ``what`` under ``where`` into a
    :class:`~nep_core.errors.NepEnvironmentError` naming it, the free space and ``need`` (bytes,
    roughly: the uncompressed size of what is written)."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT) and "No space left" not in str(exc):
            raise
        free = shutil.disk_usage(where).free
        about = f"; it writes up to {need / 1e6:,.1f} MB (uncompressed)" if need else ""
        raise NepEnvironmentError(f"{what}: no space left on the device of {where} "
                                  f"({free / 1e6:,.1f} MB free{about}); free some space or "
                                  "choose another out_dir") from exc


def _public(path: Path):
    """mkstemp/mkdtemp create 0600/0700; a finished output gets the ordinary umask permissions."""
    umask = os.umask(0)
    os.umask(umask)
    for p in [path, *path.rglob("*")] if path.is_dir() else [path]:
        os.chmod(p, (0o777 if p.is_dir() else 0o666) & ~umask)


def write_text(text: str, final: str | os.PathLike) -> Path:
    """``text`` to ``final``, atomically."""
    final = Path(final)
    with atomic_path(final) as tmp:
        tmp.write_text(text)
    return final


def _encoding(variables, chunks: dict | None, chunk_key: str, **codec) -> dict:
    """``codec`` and the stored chunk shape under ``chunk_key`` (y/x by ``chunks``, default CHUNK_XY,
    other dims whole, clipped to the shape) of every numeric variable of two or more dims."""
    chunks = chunks or {}
    return {name: {**codec, chunk_key: tuple(min(chunks.get(d, CHUNK_XY) if d in ("y", "x") else n, n)
                                             for d, n in zip(var.dims, var.shape))}
            for name, var in variables.items() if var.ndim >= 2 and var.dtype.kind in "iufb"}


def write_zarr(ds: xr.Dataset, path: str | os.PathLike, chunks: dict | None = None) -> Path:
    """Write ``ds`` as a Zarr v3 store in the new directory ``path`` (not atomic by itself: the stage
    cache writes it inside an :func:`atomic_path` directory).

    Variables with y and x are stored in chunks of ``chunks`` (default CHUNK_XY) pixels, time whole;
    dask blocks must be whole multiples of those chunks (xarray checks). Values, dtypes, attributes
    and coordinates round-trip exactly through :func:`open_zarr`.
    """
    from zarr.codecs import BloscCodec

    codec = BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")
    enc = _encoding(ds.variables, chunks, "chunks", compressors=[codec])
    ds.drop_encoding().to_zarr(path, mode="w-", encoding=enc, consolidated=False, zarr_format=3)
    return Path(path)


#: CF attributes that must have the variable's own type (Zarr keeps attributes as JSON lists)
_TYPED_ATTRS = ("flag_values", "flag_masks", "valid_range", "valid_min", "valid_max")


def open_zarr(path: str | os.PathLike, chunks: dict | None = None) -> xr.Dataset:
    """A stage store, lazily, with dask ``chunks`` (default: the stored chunks).

    Numeric list attributes come back as numpy arrays, as from NetCDF; the CF attributes that take
    the variable's type (``flag_values``, ``valid_range``, ...) in that type.
    """
    ds = xr.open_zarr(path, chunks=chunks if chunks is not None else {}, consolidated=False)
    for var in ds.variables.values():
        for k, v in var.attrs.items():
            if isinstance(v, list) and v and all(isinstance(x, (int, float)) for x in v):
                var.attrs[k] = np.asarray(v, dtype=var.dtype if k in _TYPED_ATTRS else None)
    return ds


def write_netcdf(ds: xr.Dataset, final: str | os.PathLike, chunks: dict | None = None) -> Path:
    """``ds`` as CF NetCDF-4 (h5netcdf) at ``final``, atomically; every numeric variable of two or more
    dims deflated at level 1 after the HDF5 byte shuffle, in chunks of ``chunks`` (default CHUNK_XY)
    pixels along y and x and whole along time."""
    enc = _encoding(ds.data_vars, chunks, "chunksizes", zlib=True, complevel=1, shuffle=True)
    with atomic_path(final) as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf", encoding=enc)
    return Path(final)


def dask_view(a: np.ndarray, chunks) -> dsa.Array:
    """A dask array whose blocks are sliced from ``a`` when computed, without copying ``a``
    (``dask.array.from_array`` on a distributed client, which ships the pieces; see ARCHITECTURE.md)."""
    chunks = tuple(chunks) if np.iterable(chunks) else chunks
    try:
        from distributed import default_client

        default_client()
        return dsa.from_array(a, chunks=chunks)
    except (ImportError, ValueError):
        pass
    return dsa.from_array(_Sliceable(a), chunks=chunks, name=f"view-{uuid.uuid4().hex}", asarray=True,
                          inline_array=False, meta=a[(slice(0, 0),) * a.ndim])


class _Sliceable:
    """A numpy array that dask sees as a generic array-like (sliced lazily, never copied whole)."""

    def __init__(self, a: np.ndarray):
        self.a, self.shape, self.dtype, self.ndim = a, a.shape, a.dtype, a.ndim

    def __getitem__(self, key):
        return self.a[key]
