"""Atomic writes: a file or directory appears under its final name only when complete."""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike, *, directory: bool = False):
    """Yield a temporary path next to ``final``; on success move it into place with ``os.replace``.

    On any exception the temporary is removed and ``final`` is left untouched (an earlier complete
    version, if any, survives). The temporary lives in the same directory, so the rename is atomic
    on POSIX file systems.
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


def _public(path: Path):
    """mkstemp/mkdtemp create 0600/0700; a finished output gets the ordinary umask permissions."""
    umask = os.umask(0)
    os.umask(umask)
    if path.is_dir():
        for p in [path, *path.rglob("*")]:
            os.chmod(p, (0o777 if p.is_dir() else 0o666) & ~umask)
    elif path.exists():
        os.chmod(path, 0o666 & ~umask)


def write_netcdf(ds, final: str | os.PathLike, compress: bool = True, **kwargs) -> Path:
    """Write an xarray Dataset to NetCDF-4 (h5netcdf engine) atomically; dask arrays stream by chunk.

    ``compress`` deflates (level 1) every variable with two or more dimensions: the NaN outside the
    region and the small integer class maps shrink several-fold at little cost.
    """
    final = Path(final)
    enc = dict(kwargs.pop("encoding", None) or {})
    if compress:
        for name, var in ds.data_vars.items():
            if var.ndim >= 2 and var.dtype.kind in "iufb" and name not in enc:
                e = {"zlib": True, "complevel": 1}
                if var.chunks is not None:
                    e["chunksizes"] = tuple(c[0] for c in var.chunks)
                enc[name] = e
    with atomic_path(final) as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf", encoding=enc, **kwargs)
    return final


def write_text(text: str, final: str | os.PathLike) -> Path:
    final = Path(final)
    with atomic_path(final) as tmp:
        tmp.write_text(text)
    return final
