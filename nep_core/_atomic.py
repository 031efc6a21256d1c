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


def write_netcdf(ds, final: str | os.PathLike, **kwargs) -> Path:
    """Write an xarray Dataset to NetCDF-4 (h5netcdf engine) atomically; dask arrays stream by chunk."""
    final = Path(final)
    with atomic_path(final) as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf", **kwargs)
    return final


def write_text(text: str, final: str | os.PathLike) -> Path:
    final = Path(final)
    with atomic_path(final) as tmp:
        tmp.write_text(text)
    return final
