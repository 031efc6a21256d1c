"""Area-weighted zonal statistics: class shares, group means, land-cover transition matrices.

Weighted by an explicit cell-area array (km2), so every number is a ground area or an area-weighted
mean. Group means are ``flox.groupby_reduce`` sums, class and transition areas weighted
``numpy.bincount`` sums (twice as fast there, data/benchmarks/zonal.csv), all float64 and block by
block on the local threads: dask arrays in their stored chunks, numpy arrays above ``BLOCK_VALUES``
values in row blocks (views, never copied whole). Integer codes ``0`` / NaN mean "no class" /
"outside" and never count in a share (that area is in ``DataFrame.attrs``); shares in percent.
"""
from __future__ import annotations

import weakref

import dask
import dask.array as dsa
import flox
import numpy as np
import pandas as pd
import xarray as xr

from .errors import NepInputError
from .store import dask_view
from .vocab import AREA_UNITS

#: values per block of a numpy input (a dask input keeps its own chunks)
BLOCK_VALUES = 4_000_000
#: flox engine of the group means (the fastest in data/benchmarks/zonal.csv)
ENGINE = "flox"


def _values(a) -> np.ndarray:
    return np.asarray(a.values if isinstance(a, (xr.DataArray, pd.Series)) else a)


_AREA_CACHE: dict = {}


def _check_area(cell_area, shape) -> np.ndarray:
    """The validated cell areas (km2, NaN -> 0, float64, read-only). The last result is reused while
    the same array, unchanged (same finite sum), is passed again: the tables pass one map ~50 times."""
    raw = _values(cell_area)
    if isinstance(cell_area, xr.DataArray):
        units = cell_area.attrs.get("units")
        if units is not None and units not in ("km2", "km^2", "km**2"):
            raise NepInputError(f"cell area must be in km2, got {units!r}", variable="cell_area")
    if raw.ndim == 0 or tuple(shape[len(shape) - raw.ndim:]) != raw.shape:
        raise NepInputError(f"cell area shape {raw.shape} does not match the map shape {shape}",
                            variable="cell_area")
    key = (id(raw), raw.__array_interface__["data"][0], raw.shape, raw.strides, raw.dtype.str)
    total = None
    if raw.dtype.kind in "iuf":                  # fingerprint: sum and count of the finite values
        fin = np.isfinite(raw)
        total = (float(np.sum(raw, where=fin, dtype=np.float64)), int(fin.sum()))
        del fin
    hit = _AREA_CACHE.get(key)
    if hit is not None and hit[0]() is raw and total is not None and hit[1] == total:
        return hit[2]
    area = raw.astype(float)
    if np.any(area[np.isfinite(area)] < 0):
        raise NepInputError("negative cell areas", variable="cell_area")
    area = np.where(np.isfinite(area), area, 0.0)
    area.flags.writeable = False
    _AREA_CACHE.clear()
    try:
        _AREA_CACHE[key] = (weakref.ref(raw), total, area)
    except TypeError:                       # not weak-referenceable: no reuse
        pass
    return area


def _code_block(v: np.ndarray, k: int | None = None) -> np.ndarray:
    """Validated integer codes of one block (NaN -> 0), at most ``k``."""
    if v.dtype.kind == "f":
        ok = np.isfinite(v)
        codes = np.where(ok, v, 0).astype(np.int64)
        if np.any((codes != v) & ok):
            raise NepInputError("class codes must be integers (NaN allowed for no class)")
    elif v.dtype.kind in "iub":
        codes = v
    else:
        raise NepInputError(f"class codes must be numeric, got dtype {v.dtype}")
    if codes.min(initial=0) < 0:
        raise NepInputError("class codes must be >= 0")
    if k is not None and codes.max(initial=0) > k:
        raise NepInputError(f"class codes above k={k}")
    return codes


def _data(a):
    """The array behind ``a``: a dask one as stored, a numpy one as it is up to ``BLOCK_VALUES``
    values, else as dask row blocks of about that many values (leading dimensions whole)."""
    v = a.data if isinstance(a, xr.DataArray) else a
    if isinstance(v, dsa.Array):
        return v
    v = _values(v)
    if v.size <= BLOCK_VALUES:
        return v
    if v.ndim < 2:
        return dask_view(v, BLOCK_VALUES)
    rows = max(1, BLOCK_VALUES // (int(np.prod(v.shape[:-2])) * v.shape[-1]))
    return dask_view(v, (*v.shape[:-2], rows, v.shape[-1]))


def _aligned(a, ref):
    """``a`` lined up with the trailing axes of ``ref``: numpy for a numpy ``ref``, else dask blocks
    with the chunks of ``ref``."""
    v = a.data if isinstance(a, xr.DataArray) else a
    if not isinstance(ref, dsa.Array):
        return _values(v)
    v = v if isinstance(v, dsa.Array) else np.asarray(v)
    chunks = tuple(c if n == sum(c) else -1 for n, c in zip(v.shape, ref.chunks[ref.ndim - v.ndim:]))
    return v.rechunk(chunks) if isinstance(v, dsa.Array) else dask_view(v, chunks)


def _broadcast(a, ref):
    """``a`` broadcast to the shape (and chunks) of ``ref``."""
    if isinstance(ref, dsa.Array):
        return dsa.broadcast_to(a, ref.shape, ref.chunks)
    return np.broadcast_to(a, ref.shape)


def _map(f, *arrays, **kwargs):
    """``f`` applied block by block (dask) or at once (numpy); ``f`` returns int64 codes."""
    if any(isinstance(a, dsa.Array) for a in arrays):
        return dsa.map_blocks(f, *arrays, dtype=np.int64, **kwargs)
    return f(*arrays, **kwargs)


def _present(a) -> list[int]:
    """The class codes (nonzero) present in ``a``."""
    found, = dask.compute(np.unique(_map(_code_block, a)), scheduler="threads")
    return [int(c) for c in np.unique(found) if c != 0]


def _lut(wanted, other: int) -> np.ndarray:
    """Code -> position in ``wanted``; ``other`` for 0, unlisted codes and (last entry) larger codes."""
    lut = np.full(max([0, *wanted]) + 2, other, dtype=np.int64)
    lut[list(wanted)] = np.arange(len(wanted))
    return lut


def _slots(*blocks: np.ndarray, luts: list, k: int | None = None) -> np.ndarray:
    """Per pixel, the positions ``lut[code]`` of the blocks combined row-major; -1 = not counted."""
    out, skip = np.zeros(blocks[0].shape, np.int64), np.zeros(blocks[0].shape, bool)
    for block, lut in zip(blocks, luts):
        codes = _code_block(block, k)
        pos = lut[np.minimum(codes, len(lut) - 1, dtype=np.int64)]
        skip |= pos < 0
        out = out * (int(lut.max()) + 1) + pos
    out[skip] = -1
    return out


def _group_sums(values: dsa.Array, slots: dsa.Array, size: int, axis: tuple) -> np.ndarray:
    """float64 sums of ``values`` over ``axis`` per position 0 .. size - 1 of ``slots`` (last axis)."""
    if size == 0:
        return np.zeros((*(n for i, n in enumerate(values.shape) if i not in axis), 0))
    sums, _ = flox.groupby_reduce(values, slots, func="sum", axis=axis, fill_value=0.0,
                                  expected_groups=pd.RangeIndex(size), engine=ENGINE)
    return np.asarray(dask.compute(sums, scheduler="threads")[0], dtype=np.float64)


def _bincount_sums(values: dsa.Array, slots: dsa.Array, size: int) -> np.ndarray:
    """:func:`_group_sums` over all axes as one weighted ``numpy.bincount`` per block (twice as fast
    as flox for areas of numpy maps: variant ``flox-sums`` in data/benchmarks/zonal.csv)."""
    if not isinstance(slots, dsa.Array):
        return _bincount_block(values, slots, size)
    parts = [dask.delayed(_bincount_block)(v, s, size)
             for v, s in zip(values.to_delayed().ravel(), slots.to_delayed().ravel())]
    return np.sum(dask.compute(*parts, scheduler="threads"), axis=0) if parts else np.zeros(size)


def _bincount_block(values: np.ndarray, slots: np.ndarray, size: int) -> np.ndarray:
    at = np.where(slots < 0, size, slots).ravel()                    # -1 -> a dropped last slot
    return np.bincount(at, weights=values.ravel(), minlength=size + 1)[:size]


def class_labels(da) -> dict[int, str]:
    """Code -> label from the CF ``flag_values`` / ``flag_meanings`` attributes (``_`` -> space);
    empty without them."""
    attrs = getattr(da, "attrs", {}) or {}
    vals = attrs.get("flag_values")
    means = attrs.get("flag_meanings")
    if vals is None or means is None:
        return {}
    vals = np.atleast_1d(np.asarray(vals)).astype(int).tolist()
    means = means.split() if isinstance(means, str) else list(means)
    if len(vals) != len(means):
        raise NepInputError("flag_values and flag_meanings differ in length",
                            variable=getattr(da, "name", None))
    return {v: m.replace("_", " ") for v, m in zip(vals, means)}


def area_shares(classes, cell_area, groups=None, codes=None, labels=None,
                group_names=None) -> pd.DataFrame:
    """Area (km2) and percent of the classified area per class, optionally per group.

    ``classes``: integer codes (..., y, x), 0 / NaN = no class; ``cell_area``: (y, x) in km2,
    broadcast over the leading dims; ``groups`` (e.g. ``province``): codes shaped like ``classes`` or
    (y, x), 0 / NaN = outside (not counted at all). ``codes``: the classes to report (absent ones get
    0 km2 / 0 %; unlisted codes count as unclassified), default the ``flag_values`` of ``classes``,
    else every code present. ``labels`` / ``group_names``: code -> name (default the CF flag
    meanings, else the code).

    Returns a DataFrame with columns (``group``,) ``class``, ``label``, ``area_km2``, ``share_pct``
    (sums to 100 over the classified area of each group); ``attrs["unclassified_km2"]`` and
    ``attrs["classified_km2"]`` (a float, or a dict per group): area inside without / with a class.
    """
    cls = _data(classes)
    area = _broadcast(_aligned(_check_area(cell_area, cls.shape), cls), cls)
    if codes is None:
        codes = sorted(class_labels(classes)) or _present(cls)
    codes = [int(c) for c in codes if int(c) != 0]                     # 0 is never a class
    if labels is None:
        labels = class_labels(classes)
    k = len(codes)                                                    # last slot = unclassified
    if groups is None:
        gids, slots = [0], _map(_slots, cls, luts=[_lut(codes, k)])
    else:
        g = _broadcast(_aligned(groups, cls), cls)
        gids = sorted(group_names) if group_names else _present(g)
        gids = [int(c) for c in gids if int(c) != 0]                   # 0 = outside
        slots = _map(_slots, g, cls, luts=[_lut(gids, -1), _lut(codes, k)])
    sums = _bincount_sums(area, slots, len(gids) * (k + 1)).reshape(len(gids), k + 1)
    classified = sums[:, :-1]
    totals = classified.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        pct = np.where(totals > 0, 100.0 * classified / np.where(totals > 0, totals, 1), np.nan)
    rows = pd.DataFrame({
        "class": np.tile(codes, len(gids)),
        "label": [labels.get(c, str(c)) for c in codes] * len(gids),
        "area_km2": classified.ravel(),
        "share_pct": pct.ravel(),
    })
    if groups is None:
        rows.attrs["unclassified_km2"] = float(sums[0, -1])
        rows.attrs["classified_km2"] = float(totals[0, 0])
        return rows
    names = [group_names.get(g, str(g)) if group_names else g for g in gids]
    rows.insert(0, "group", np.repeat(names, len(codes)))
    rows.attrs["unclassified_km2"] = dict(zip(names, sums[:, -1].tolist()))
    rows.attrs["classified_km2"] = dict(zip(names, totals[:, 0].tolist()))
    return rows


def zonal_mean(da, cell_area, groups=None, names=None, total: str | None = None,
               dim: str = "year"):
    """Area-weighted mean ``sum(a * x) / sum(a)`` of ``da`` over the finite pixels of each group.

    ``da``: (y, x) or (dim, y, x); ``cell_area``: (y, x) in km2 (the weights); ``groups``: integer
    codes (y, x) or (dim, y, x) (pixels changing group year by year), 0 / NaN = outside, default one
    group; ``names``: code -> row name, unlisted codes dropped (default every code present);
    ``total``: name of an extra row, the mean over all pixels inside any group.

    Returns a Series (a (y, x) map; index = group) or a DataFrame (group x ``dim``), in the units
    of ``da`` (``attrs["units"]``).
    """
    if not isinstance(da, xr.DataArray):
        raise NepInputError("zonal_mean needs a DataArray with named dims")
    series = dim in da.dims
    x = _data(da.transpose(dim, ...) if series else da.expand_dims("_step"))
    nt, map_shape = x.shape[0], x.shape[1:]
    area = _aligned(_check_area(cell_area, da.shape).reshape(map_shape), x)
    if groups is None:
        g = _aligned(np.broadcast_to(np.int8(1), map_shape), x)               # one group
    else:
        gv = groups.transpose(dim, ...) if (isinstance(groups, xr.DataArray) and dim in groups.dims) \
            else groups
        gshape = tuple(gv.shape)
        if len(gshape) == len(map_shape) + 1 and gshape[0] not in (1, nt):
            raise NepInputError(f"groups have {gshape[0]} steps along {dim!r}, data {nt}",
                                variable="groups")
        if tuple(gshape[-len(map_shape):]) != map_shape:
            raise NepInputError(f"groups shape {gshape} does not match the map shape {map_shape}",
                                variable="groups")
        g = _aligned(gv, x)
    if names is None:
        names = {c: c for c in _present(g)}
    names = {int(c): n for c, n in names.items() if int(c) != 0}        # 0 = outside
    codes = list(names)
    g = _map(_slots, g, luts=[_lut(codes, -1)])
    g = _broadcast(g, x) if g.ndim == x.ndim else g
    ok = np.isfinite(x)
    weighted = np.stack([np.where(ok, x.astype(np.float64) * area, 0.0), np.where(ok, area, 0.0)])
    num, den = _group_sums(weighted, g, len(codes), axis=tuple(range(2, weighted.ndim)))
    if total:
        num = np.column_stack([num, num.sum(axis=1)])
        den = np.column_stack([den, den.sum(axis=1)])
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
    index = [names[c] for c in codes] + ([total] if total else [])
    if series:
        out = pd.DataFrame(mean.T, index=index, columns=pd.Index(da[dim].values, name=dim))
    else:
        out = pd.Series(mean[0], index=index, name=da.name)
    out.attrs["units"] = da.attrs.get("units", "")
    return out


def linear_trend(df: pd.DataFrame) -> pd.DataFrame:
    """Ordinary least-squares fit of each row of a group x year table against the years (columns),
    skipping NaN: the trend lines of Figs 2 / 6 / 8, not the per-pixel Theil-Sen slope.

    Returns a DataFrame, one row per group: ``slope`` (units per year), ``intercept`` (year 0), ``r2``.
    """
    xv = np.asarray(df.columns, dtype=float)
    y = df.to_numpy(dtype=float)
    ok = np.isfinite(y)
    n = ok.sum(axis=1)
    xm = np.where(ok, xv[None, :], 0).sum(axis=1) / np.maximum(n, 1)
    ym = np.where(ok, y, 0).sum(axis=1) / np.maximum(n, 1)
    dx = np.where(ok, xv[None, :] - xm[:, None], 0)
    dy = np.where(ok, y - ym[:, None], 0)
    sxx = (dx * dx).sum(axis=1)
    sxy = (dx * dy).sum(axis=1)
    syy = (dy * dy).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = np.where((n >= 2) & (sxx > 0), sxy / sxx, np.nan)
        r2 = np.where(syy > 0, sxy ** 2 / (sxx * syy), np.nan)
    return pd.DataFrame({"slope": slope, "intercept": ym - slope * xm, "r2": r2}, index=df.index)


def transition_matrix(lc_from, lc_to, cell_area, k: int = 7, labels=None) -> pd.DataFrame:
    """Area (km2) moving from each class in one map to each class in another.

    Codes run 1..k (0 / NaN = no data); a pixel counts only with a class in both (y, x) maps.
    ``labels`` (sequence or dict) name codes 1..k. Returns a k x k DataFrame (rows = first map,
    columns = second) with ``attrs["units"]`` (km2) and ``attrs["excluded_km2"]`` (no class in one).
    """
    a = _data(lc_from)
    if a.shape != tuple(np.shape(lc_to)):
        raise NepInputError(f"land-cover maps differ in shape: {a.shape} vs {np.shape(lc_to)}")
    area = _aligned(_check_area(cell_area, a.shape), a)
    slots = _map(_slots, a, _aligned(lc_to, a), luts=[np.arange(k + 1)] * 2, k=k)
    m = _bincount_sums(area, slots, (k + 1) ** 2).reshape(k + 1, k + 1)   # slot 0 = no class
    if labels is None:
        names = list(range(1, k + 1))
    elif isinstance(labels, dict):
        names = [labels.get(c, str(c)) for c in range(1, k + 1)]
    else:
        names = list(labels)
    df = pd.DataFrame(m[1:, 1:], index=pd.Index(names, name="from"), columns=pd.Index(names, name="to"))
    df.attrs["units"] = AREA_UNITS
    df.attrs["excluded_km2"] = float(m[0, 1:].sum() + m[1:, 0].sum())
    return df


def changed_share(lc_from, lc_to=None, cell_area=None, k: int = 7) -> float:
    """Percent of the area valid in both maps whose class changed, ``100 * (1 - trace / total)``,
    from a transition matrix (``changed_share(matrix)``) or two class maps and the cell area."""
    m = lc_from if isinstance(lc_from, pd.DataFrame) else transition_matrix(lc_from, lc_to, cell_area, k)
    total = float(m.to_numpy().sum())
    if total <= 0:
        return float("nan")
    return 100.0 * (1.0 - float(np.trace(m.to_numpy())) / total)
