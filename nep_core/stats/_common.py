"""Shared wrapper plumbing: input checks at the boundary, the time coordinate, units, apply_ufunc."""
from __future__ import annotations

import re

import numpy as np
import xarray as xr

from .. import reasons
from ..config import Stats
from ..errors import NepInputError

DEFAULTS = Stats()


def name_of(da, fallback: str) -> str:
    return str(da.name) if getattr(da, "name", None) is not None else fallback


def check_input(da, dim: str, name: str = "input") -> xr.DataArray:
    """Validate a DataArray at a wrapper boundary; return it with ``dim`` in a single dask chunk.

    Raises NepInputError for: not a DataArray, missing ``dim``, non-real-numeric dtype."""
    if not isinstance(da, xr.DataArray):
        raise NepInputError(f"expected an xarray.DataArray, got {type(da).__name__}", variable=name)
    var = name_of(da, name)
    if dim not in da.dims:
        raise NepInputError(f"dimension {dim!r} not found (dims: {tuple(da.dims)})", variable=var)
    kind = da.dtype.kind
    if kind not in "iuf":
        raise NepInputError(f"non-numeric or unsupported dtype {da.dtype} (need real numbers)",
                            variable=var)
    if kind != "f":
        da = da.astype(np.float64)
    if da.chunks is not None:
        da = da.chunk({dim: -1})
    return da


def time_values(da: xr.DataArray, dim: str) -> np.ndarray:
    """The ``dim`` coordinate as float64 years, checked strictly increasing.

    Integer/float coordinates are used as they are (years); datetime64 becomes decimal years
    (year + elapsed fraction of that year)."""
    var = name_of(da, "input")
    c = da[dim].values
    if np.issubdtype(c.dtype, np.datetime64):
        idx = da.indexes[dim] if dim in da.indexes else None
        if idx is None:
            raise NepInputError(f"coordinate {dim!r} has no index", variable=var)
        year = idx.year.values.astype(np.float64)
        start = np.array([np.datetime64(f"{int(yy)}-01-01") for yy in year])
        end = np.array([np.datetime64(f"{int(yy) + 1}-01-01") for yy in year])
        t = year + (c - start) / (end - start)
    elif c.dtype.kind in "iuf":
        t = c.astype(np.float64)
    else:
        raise NepInputError(f"coordinate {dim!r} must be numeric years or datetime64, got {c.dtype}",
                            variable=var)
    if not np.all(np.isfinite(t)):
        raise NepInputError(f"coordinate {dim!r} has non-finite values", variable=var)
    if t.size > 1 and not np.all(np.diff(t) > 0):
        raise NepInputError(f"coordinate {dim!r} must be strictly increasing (no duplicates)",
                            variable=var)
    return t


def check_min_valid(min_valid, lowest: int, what: str) -> int:
    if not isinstance(min_valid, (int, np.integer)) or isinstance(min_valid, bool):
        raise NepInputError(f"min_valid must be an integer, got {min_valid!r}", variable="min_valid")
    if min_valid < lowest:
        raise NepInputError(f"min_valid={min_valid} is too small: {what} needs at least {lowest}",
                            variable="min_valid")
    return int(min_valid)


_PER_A = re.compile(r"^(.*?)(?:\s*)\ba(-?\d+)$")


def per_year(units: str | None) -> str:
    """Units of a rate of change per year: ``'g C m-2 a-1'`` -> ``'g C m-2 a-2'``, ``'degC'`` ->
    ``'degC a-1'``, ``'1'``/``''`` -> ``'a-1'``.

    >>> per_year("g C m-2 a-1"), per_year("mm"), per_year("1")
    ('g C m-2 a-2', 'mm a-1', 'a-1')
    """
    u = (units or "").strip()
    if u in ("", "1"):
        return "a-1"
    m = _PER_A.match(u)
    if m:
        head, power = m.group(1).rstrip(), int(m.group(2)) - 1
        tail = "" if power == 0 else f"a{power}"
        return " ".join(x for x in (head, tail) if x) or "1"
    return f"{u} a-1"


def reason_attrs(long_name: str) -> dict:
    return reasons.flag_attrs(long_name)


def apply_rows(func, da: xr.DataArray, dim: str, out_dtypes: list, kwargs: dict | None = None):
    """Run ``func(y2d, **kwargs) -> tuple of 1-D arrays`` over every pixel of ``da`` along ``dim``.

    ``func`` receives a C-contiguous (npix, n) array; its 1-D outputs are reshaped back to the
    non-core shape. Works unchanged on numpy- and dask-backed arrays (dask="parallelized")."""

    def _run(arr, **kw):
        shape = arr.shape[:-1]
        y2 = np.ascontiguousarray(arr.reshape(-1, arr.shape[-1]))
        outs = func(y2, **kw)
        return tuple(np.asarray(o).reshape(shape) for o in outs)

    return xr.apply_ufunc(
        _run, da,
        input_core_dims=[[dim]],
        output_core_dims=[[] for _ in out_dtypes],
        dask="parallelized",
        output_dtypes=out_dtypes,
        kwargs=kwargs or {},
        keep_attrs=False,
    )
