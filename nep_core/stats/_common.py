"""Shared wrapper plumbing: input checks at the boundary, the time coordinate, the minimum-years rule,
units, and ``apply_rows`` (kernels over dask blocks)."""
from __future__ import annotations

import contextlib
import operator
import re

import numpy as np
import xarray as xr

from ..config import Stats
from ..errors import NepInputError
from . import _kernels as K

DEFAULTS = Stats()


def name_of(da, fallback: str) -> str:
    return str(da.name) if getattr(da, "name", None) is not None else fallback


def check_input(da, dim: str, name: str = "input") -> xr.DataArray:
    """Check a DataArray at a wrapper boundary (type, ``dim`` present, real numbers); return it as
    float with ``dim`` in one dask chunk."""
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
    """The ``dim`` coordinate as float64 years, checked strictly increasing; datetime64 becomes
    decimal years (year + elapsed fraction of that year)."""
    var = name_of(da, "input")
    c = da[dim].values
    if np.issubdtype(c.dtype, np.datetime64):
        year = c.astype("datetime64[Y]")
        start = year.astype(c.dtype)
        t = year.astype(np.float64) + 1970.0 + (c - start) / ((year + 1).astype(c.dtype) - start)
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


def resolve_min_valid(min_valid, n: int, lowest: int, what: str) -> tuple[int, dict]:
    """The fewest finite years a pixel needs, and the attrs ``min_valid`` / ``min_valid_rule`` that
    state it on the outputs.

    ``None`` (the default of every wrapper and of ``Config().stats``) means ceil(0.8 n) of the n
    years along the time dim, computed as (4 n + 4) // 5 (20 of 24); an integer is absolute. Either
    must lie in [``lowest``, n] (``lowest``: the fewest values ``what`` is defined for).
    """
    if min_valid is None:
        mv = (4 * int(n) + 4) // 5
        if mv < lowest:
            raise NepInputError(f"a series of {n} years is too short: {what} needs at least {lowest}",
                                variable="min_valid")
        return mv, {"min_valid": mv, "min_valid_rule": f"ceil(0.8 * n_years) = {mv} (n_years = {int(n)})"}
    if not isinstance(min_valid, (int, np.integer)) or isinstance(min_valid, bool):
        raise NepInputError(f"min_valid must be an integer or None, got {min_valid!r}", variable="min_valid")
    if min_valid < lowest:
        raise NepInputError(f"min_valid={min_valid} is too small: {what} needs at least {lowest}",
                            variable="min_valid")
    if min_valid > n:
        raise NepInputError(f"min_valid={min_valid} exceeds the {n} years of the series (every pixel "
                            "would be masked)", variable="min_valid")
    mv = int(min_valid)
    return mv, {"min_valid": mv, "min_valid_rule": f"absolute: {mv} years (n_years = {int(n)})"}


def check_choices(main, extra, allowed, what: str, extra_name: str = "") -> None:
    """``main`` and every element of ``extra`` must be in ``allowed``, ``extra`` without repeats."""
    for c in (main, *extra):
        if c not in allowed:
            raise NepInputError(f"{what} must be one of {list(allowed)}, got {c!r}", variable=what)
    if len(set(extra)) != len(extra):
        raise NepInputError(f"{extra_name} repeats a {what}: {list(extra)}", variable=extra_name)


_PER_A = re.compile(r"^(.*?)(?:\s*)\ba(-?\d+)$")


def per_year(units: str | None) -> str:
    """Units of a rate of change per year: ``'g C m-2 a-1'`` -> ``'g C m-2 a-2'``, ``'degC'`` ->
    ``'degC a-1'``, ``'1'``/``''`` -> ``'a-1'``."""
    u = (units or "").strip()
    if u in ("", "1"):
        return "a-1"
    m = _PER_A.match(u)
    if m:
        head, power = m.group(1).rstrip(), int(m.group(2)) - 1
        tail = "" if power == 0 else f"a{power}"
        return " ".join(x for x in (head, tail) if x) or "1"
    return f"{u} a-1"


def apply_rows(func, da, dim: str, out_dtypes: list, kwargs: dict | None = None):
    """Run ``func(*y2d, **kwargs)`` over every pixel along ``dim``; one DataArray over the other dims
    per output dtype.

    ``da``: a DataArray or a list of them with the same dims and chunks. ``func`` gets one
    ``(npix, n)`` view of each block (Fortran-ordered for a block stored time-first) and returns
    1-D arrays and/or ``(k, npix)`` arrays of k outputs. Dask blocks are mapped by
    ``dask.array.blockwise`` without concatenation (``apply_ufunc`` would copy every block).
    """
    arrays = list(da) if isinstance(da, (list, tuple)) else [da]
    ref = arrays[0]
    axis = ref.get_axis_num(dim)
    n = ref.sizes[dim]
    dims = [d for d in ref.dims if d != dim]
    coords = {k: v for k, v in ref.coords.items() if dim not in v.dims}
    kw = kwargs or {}

    def _block(*blocks, one_thread=False):
        shape = blocks[0].shape[:axis] + blocks[0].shape[axis + 1:]
        rows = [np.moveaxis(b, axis, -1).reshape(-1, n) for b in blocks]
        with K.single_thread() if one_thread else contextlib.nullcontext():
            outs = func(*rows, **kw)
        return tuple(o.reshape(shape) for out in outs for o in (out if out.ndim == 2 else (out,)))

    if all(a.chunks is None for a in arrays):
        outs = _block(*(a.values for a in arrays))
    else:
        import dask.array as dsa

        # ``dim`` is one chunk (check_input): each input arrives as a one-element list of its block
        idx = [f"i{k}" for k in range(ref.ndim)]
        out_idx = [i for k, i in enumerate(idx) if k != axis]
        args = [x for a in arrays for x in (a.data, idx)]
        tup = dsa.blockwise(lambda *lists: _block(*(b[0] if isinstance(b, list) else b for b in lists),
                                                  one_thread=True),
                            out_idx, *args, concatenate=False, dtype=object,
                            meta=np.empty((0,) * len(out_idx), object))
        outs = [tup.map_blocks(operator.getitem, j, dtype=dt, meta=np.empty((0,) * len(out_idx), dt))
                for j, dt in enumerate(out_dtypes)]
    return tuple(xr.DataArray(o, dims=dims, coords=coords) for o in outs)
