"""Area-weighted zonal statistics: class shares, group means, land-cover transition matrices.

Everything here is weighted by an explicit cell-area array (km2), so the numbers are areas on the
ground even on a grid whose cells differ in size. All functions work on whole arrays with
``numpy.bincount``; there is no per-pixel Python loop.

Conventions
-----------
* Class and group codes are integers; ``0`` and NaN mean "no class" / "outside" and are never counted
  in a share. Their area is reported separately (``DataFrame.attrs``), so shares over the classified
  area sum to 100 %.
* Areas are in km2 (the unit of the ``cell_area`` variable of the results store); shares in percent.
"""
from __future__ import annotations

import weakref

import numpy as np
import pandas as pd
import xarray as xr

from .errors import NepInputError
from .vocab import AREA_UNITS

__all__ = [
    "area_shares", "zonal_mean", "transition_matrix", "changed_share", "linear_trend",
    "multi_year_mean", "class_labels",
]



# ----------------------------------------------------------------------------------------- helpers
def _values(a) -> np.ndarray:
    return np.asarray(a.values if isinstance(a, (xr.DataArray, pd.Series)) else a)


_AREA_CACHE: dict = {}


def _check_area(cell_area, shape) -> np.ndarray:
    """The validated cell areas (km2, NaN -> 0, float64, read-only).

    The tables call this ~50 times on the same 26 M-cell map at 500 m (30 s and 0.6 GB of
    temporaries per call); the last result is reused while the same array, unchanged (same sum), is
    passed again."""
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


def _codes(a) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes and a validity mask (finite and != 0)."""
    v = _values(a)
    if v.dtype.kind == "f":
        ok = np.isfinite(v)
        codes = np.where(ok, v, 0).astype(np.int64)
        if np.any(codes[ok] != v[ok]):
            raise NepInputError("class codes must be integers (NaN allowed for no class)")
    elif v.dtype.kind in "iub":
        codes = v.astype(np.int64)
        ok = np.ones(v.shape, bool)
    else:
        raise NepInputError(f"class codes must be numeric, got dtype {v.dtype}")
    ok &= codes != 0
    if np.any(codes[ok] < 0):
        raise NepInputError("class codes must be >= 0")
    return codes, ok


_SHARE_ROWS = 512


def _nd_row_blocks(a: np.ndarray):
    """Index tuples covering a numpy array: every leading index x ``_SHARE_ROWS``-row slices
    (:func:`_row_blocks`) of the last two axes."""
    if a.ndim < 2:
        yield (Ellipsis,)
        return
    rows = _row_blocks(a, a.shape[-2], _SHARE_ROWS)
    for lead in np.ndindex(*a.shape[:-2]):
        for rs in rows:
            yield lead + (rs, slice(None))


def class_labels(da) -> dict[int, str]:
    """Code -> label of a class variable from its CF ``flag_values`` / ``flag_meanings`` attributes.

    Underscores in the meanings become spaces (``"significant_increase"`` -> ``"significant increase"``).
    Returns an empty dict when the attributes are absent.
    """
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


# ------------------------------------------------------------------------------------------ shares
def area_shares(classes, cell_area, groups=None, codes=None, labels=None,
                group_names=None) -> pd.DataFrame:
    """Area (km2) and percent of the classified area per class, optionally per group.

    Parameters
    ----------
    classes : DataArray or ndarray, (..., y, x)
        Integer class codes; 0 or NaN = no class.
    cell_area : DataArray or ndarray, (y, x)
        Cell areas in km2 (broadcast over leading dims of ``classes``).
    groups : DataArray or ndarray, optional
        Group codes (e.g. ``province``), same shape as ``classes`` or (y, x); 0 or NaN = outside
        (not counted at all).
    codes : sequence of int, optional
        The classes to report (rows for absent classes are 0 km2 / 0 %). Codes not listed count as
        unclassified. Default: every code present, or the ``flag_values`` of ``classes``.
    labels : dict, optional
        Code -> label; default from the CF flag attributes of ``classes``, else the code itself.
    group_names : dict, optional
        Group code -> name (e.g. ``nep_core.grid.PROVINCES``).

    Returns
    -------
    pandas.DataFrame
        Columns ``class`` (code), ``label``, ``area_km2``, ``share_pct`` (and ``group`` first when
        ``groups`` is given). ``share_pct`` sums to 100 over the classified area (per group).
        ``df.attrs["unclassified_km2"]`` (a float, or a dict per group) holds the area of pixels that
        are inside but carry no class, ``df.attrs["classified_km2"]`` the classified area.

    Examples
    --------
    >>> import numpy as np
    >>> area_shares(np.array([[1, 1], [2, 0]]), np.ones((2, 2)))[["class", "area_km2", "share_pct"]]
       class  area_km2  share_pct
    0      1       2.0  66.666667
    1      2       1.0  33.333333
    """
    vals = _values(classes)
    area = np.broadcast_to(_check_area(cell_area, vals.shape), vals.shape)
    gvals = None if groups is None else np.broadcast_to(_values(groups), vals.shape)
    # Row blocks: the int64 code / slot temporaries of a whole 500 m map (26 M cells) cost ~2 GB.
    blocks = list(_nd_row_blocks(vals))
    lab = class_labels(classes) if codes is None else {}
    cmax, gmax, found, gfound = 0, 0, set(), set()
    for b in blocks:                                      # pass 1: validate, largest codes, codes present
        cls, ok = _codes(vals[b])
        cmax = max(cmax, int(cls.max(initial=0)))
        if codes is None and not lab:
            found.update(np.unique(cls[ok]).tolist())
        if gvals is not None:
            g, gin = _codes(gvals[b])
            gmax = max(gmax, int(g.max(initial=0)))
            if not group_names:
                gfound.update(np.unique(g[gin]).tolist())
    if codes is None:
        codes = sorted(lab) if lab else sorted(found)
    codes = [int(c) for c in codes if int(c) != 0]                     # 0 is never a class
    if labels is None:
        labels = class_labels(classes)
    pos = np.full(max([cmax, *codes]) + 1, -1, dtype=np.int64)
    pos[codes] = np.arange(len(codes))
    if gvals is None:
        gids = [0]
    else:
        gids = sorted(group_names) if group_names else sorted(gfound)
        gids = [int(g) for g in gids if int(g) != 0]                  # 0 = outside
    gpos = np.full(max([gmax, *gids]) + 1, -1, dtype=np.int64)
    gpos[gids] = np.arange(len(gids))
    k = len(codes) + 1                                                # last slot = unclassified
    sums = np.zeros(len(gids) * k)
    for b in blocks:                                      # pass 2: area per (group, class) slot
        cls, ok = _codes(vals[b])
        idx = np.where(ok, pos[cls], -1)                              # -1 = inside but unclassified
        if gvals is None:
            gi = np.zeros(cls.shape, np.int64)
        else:
            g, gin = _codes(gvals[b])
            gi = np.where(gin, gpos[g], -1)
        keep = gi >= 0
        slot = np.where(idx >= 0, idx, len(codes))
        sums += np.bincount((gi[keep] * k + slot[keep]).ravel(), weights=area[b][keep].ravel(),
                            minlength=len(gids) * k)
    sums = sums.reshape(len(gids), k)
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


# ------------------------------------------------------------------------------------------- means
def zonal_mean(da, cell_area, groups=None, names=None, total: str | None = None,
               dim: str = "year"):
    """Area-weighted mean of ``da`` per group, ignoring NaN pixels.

    Parameters
    ----------
    da : DataArray, (y, x) or (dim, y, x)
        The quantity to average (e.g. ``nep`` in g C m-2 a-1).
    cell_area : DataArray or ndarray, (y, x)
        Cell areas, km2 (the weights).
    groups : DataArray, (y, x) or (dim, y, x), optional
        Integer group codes, 0 / NaN = outside. A group map with the ``dim`` axis (e.g. yearly land
        cover aligned to the years of ``da``) assigns pixels to groups year by year. ``None``: one
        group (all finite pixels).
    names : dict, optional
        Group code -> row name; codes not in ``names`` are dropped. Default: every code present.
    total : str, optional
        If given, add a row of this name with the mean over all pixels inside any group.
    dim : str
        The time dimension of a series (default ``"year"``).

    Returns
    -------
    pandas.Series (for a (y, x) map; index = group) or pandas.DataFrame (group x ``dim``) of
    area-weighted means, in the units of ``da`` (``.attrs["units"]``).
    """
    if not isinstance(da, xr.DataArray):
        raise NepInputError("zonal_mean needs a DataArray with named dims")
    series = dim in da.dims
    da_t = da.transpose(dim, ...) if series else da.expand_dims("_step")
    nt = da_t.shape[0]
    map_shape = tuple(da_t.shape[1:])
    area = _check_area(cell_area, da.shape).reshape(map_shape)
    if groups is not None:
        gv = groups.transpose(dim, ...) if (isinstance(groups, xr.DataArray) and dim in groups.dims) \
            else groups
        gshape = tuple(gv.shape)
        stepped = len(gshape) == len(map_shape) + 1
        if stepped and gshape[0] not in (1, nt):
            raise NepInputError(f"groups have {gshape[0]} steps along {dim!r}, data {nt}",
                                variable="groups")
        if tuple(gshape[-len(map_shape):]) != map_shape:
            raise NepInputError(f"groups shape {gshape} does not match the map shape {map_shape}",
                                variable="groups")

    # Row blocks of the map with every time step: each stored (time-unchunked) chunk is read once,
    # and memory is (nt x block) values, not the (nt, npix) float64 cube (24 GB at 500 m). Outer
    # blocks follow the dask chunks along the row axis (a stored 256-row chunk read in 26-row
    # pieces would be decompressed ten times); the float64 arithmetic runs on inner sub-blocks.
    rows = map_shape[0] if len(map_shape) else 1
    ncols = int(np.prod(map_shape[1:])) if len(map_shape) > 1 else 1
    step = max(1, int(BLOCK_VALUES // max(nt * ncols, 1)))
    outer = _row_blocks(da_t, rows, step)

    def block_groups(g_outer, sl):
        n = (sl.stop - sl.start) * ncols
        if groups is None:
            return np.ones((1, n), np.int64), np.ones((1, n), bool)
        gb = g_outer[..., sl, :] if len(map_shape) > 1 else g_outer[..., sl]
        gc, ok = _codes(gb)
        return gc.reshape(-1, n), ok.reshape(-1, n)

    def read_groups(sl):
        if groups is None:
            return None
        gb = gv[..., sl, :] if len(map_shape) > 1 else gv[..., sl]
        return _values(gb)

    if names is None:
        present = set()
        for osl in outer:
            g_outer = read_groups(osl)
            gc, ok = block_groups(g_outer, slice(0, osl.stop - osl.start))
            present |= set(np.unique(gc[ok]).tolist())
        names = {c: c for c in sorted(present)}
    names = {int(c): n for c, n in names.items() if int(c) != 0}        # 0 = outside
    codes = list(names)
    ng = len(codes) + (1 if total else 0)
    num = np.zeros((nt, ng))
    den = np.zeros((nt, ng))
    for osl in outer:
        xo = np.asarray(da_t[:, osl].values if len(map_shape) > 0 else da_t.values)
        g_outer = read_groups(osl)
        for r0 in range(0, osl.stop - osl.start, step):
            sl = slice(r0, min(osl.stop - osl.start, r0 + step))
            x = np.asarray(xo[:, sl], dtype=float).reshape(nt, -1)
            a = area[osl][sl].reshape(-1) if len(map_shape) else area.reshape(-1)
            g, gok = block_groups(g_outer, sl)
            g = np.broadcast_to(g, x.shape)
            gok = np.broadcast_to(gok, x.shape)
            lut = np.full(max([int(g.max(initial=0)), *codes]) + 1, -1, np.int64)
            lut[codes] = np.arange(len(codes))
            gi = np.where(gok, lut[g], -1)
            valid = (gi >= 0) & np.isfinite(x)
            w = np.where(valid, a[None, :], 0.0)
            wx = w * np.where(valid, x, 0.0)
            flat = (np.arange(nt)[:, None] * ng + np.where(valid, gi, 0)).ravel()
            num += np.bincount(flat, weights=wx.ravel(), minlength=nt * ng).reshape(nt, ng)
            den += np.bincount(flat, weights=w.ravel(), minlength=nt * ng).reshape(nt, ng)
            if total:
                num[:, -1] += wx.sum(axis=1)
                den[:, -1] += w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
    index = [names[c] for c in codes] + ([total] if total else [])
    units = da.attrs.get("units", "")
    if not series:
        out = pd.Series(mean[0], index=index, name=da.name)
        out.attrs["units"] = units
        return out
    out = pd.DataFrame(mean.T, index=index, columns=da[dim].values)
    out.columns.name = dim
    out.attrs["units"] = units
    return out


BLOCK_VALUES = 4_000_000   # values per float64 arithmetic sub-block of zonal_mean


def _row_blocks(da_t, rows: int, step: int, budget: float = 4e8) -> list:
    """Row slices for reading ``da_t`` (time first) once per stored chunk row.

    A dask-backed array is cut at its chunk boundaries along the row axis (consecutive chunks are
    merged up to ``step`` rows); a numpy-backed one in ``step``-row pieces. A block never exceeds
    about ``budget`` bytes unless a single chunk row does."""
    chunks = getattr(da_t, "chunks", None)
    if not chunks or da_t.ndim < 2:
        return [slice(r0, min(rows, r0 + step)) for r0 in range(0, rows, step)]
    bounds = np.cumsum((0, *chunks[1]))
    row_bytes = da_t.dtype.itemsize * da_t.shape[0] * int(np.prod(da_t.shape[2:]))
    out, start = [], 0
    for b in bounds[1:]:
        b = int(b)
        if b - start >= step or (b - start) * row_bytes >= budget or b == rows:
            out.append(slice(start, b))
            start = b
    return out


def multi_year_mean(da: xr.DataArray, dim: str = "year") -> xr.DataArray:
    """Per-pixel mean over ``dim`` (NaN-skipping), keeping units and recording ``cell_methods``."""
    out = da.mean(dim, skipna=True)
    out.attrs = dict(da.attrs)
    out.attrs["cell_methods"] = f"{dim}: mean"
    return out


def linear_trend(series, x=None) -> pd.DataFrame:
    """Ordinary least-squares slope and intercept of each row of a group x year table.

    The figures draw this line through regional mean series (the study's Fig 2 / 6 / 8 trend lines);
    it is not the per-pixel Theil-Sen slope (``trend_slope`` in the results store).

    Parameters
    ----------
    series : pandas.DataFrame (rows = groups, columns = years) or pandas.Series (index = years)
    x : array-like, optional
        The abscissa; default the column labels (years).

    Returns
    -------
    pandas.DataFrame with columns ``slope`` (units per year), ``intercept`` (value at x = 0) and
    ``r2``, one row per group; NaN entries in a row are skipped.
    """
    df = series.to_frame().T if isinstance(series, pd.Series) else series
    xv = np.asarray(df.columns if x is None else x, dtype=float)
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


# ------------------------------------------------------------------------------------ transitions
def transition_matrix(lc_from, lc_to, cell_area, k: int = 7, labels=None) -> pd.DataFrame:
    """Area (km2) moving from each class in one map to each class in another.

    Counts ``from * (k + 1) + to`` codes with ``numpy.bincount`` weighted by cell area; codes run
    1..k and 0 / NaN is no data. A pixel is counted only when it has a class in both maps.

    Parameters
    ----------
    lc_from, lc_to : DataArray or ndarray, (y, x)
        Class maps of the first and the second year (codes 1..k).
    cell_area : DataArray or ndarray, (y, x)
        Cell areas in km2.
    k : int
        Number of classes (7 for the study's land-cover classes).
    labels : sequence of str or dict, optional
        Row/column names for codes 1..k (default the codes).

    Returns
    -------
    pandas.DataFrame, k x k, rows = class in the first map, columns = class in the second, km2.
    Row sums equal the first map's class areas over pixels valid in both maps. ``attrs`` hold
    ``"units"`` (``km2``) and ``"excluded_km2"`` (area with no data in either map).
    """
    a, oka = _codes(lc_from)
    b, okb = _codes(lc_to)
    if a.shape != b.shape:
        raise NepInputError(f"land-cover maps differ in shape: {a.shape} vs {b.shape}")
    area = np.broadcast_to(_check_area(cell_area, a.shape), a.shape)
    if np.any(a > k) or np.any(b > k):
        raise NepInputError(f"class codes above k={k}")
    ok = oka & okb
    m = np.bincount((a[ok] * (k + 1) + b[ok]).ravel(), weights=area[ok].ravel(),
                    minlength=(k + 1) ** 2).reshape(k + 1, k + 1)[1:, 1:]
    if labels is None:
        names = list(range(1, k + 1))
    elif isinstance(labels, dict):
        names = [labels.get(c, str(c)) for c in range(1, k + 1)]
    else:
        names = list(labels)
    df = pd.DataFrame(m, index=pd.Index(names, name="from"), columns=pd.Index(names, name="to"))
    df.attrs["units"] = AREA_UNITS
    df.attrs["excluded_km2"] = float(area[(oka | okb) & ~ok].sum())
    return df


def changed_share(lc_from, lc_to=None, cell_area=None, k: int = 7) -> float:
    """Percent of the area (valid in both maps) whose class changed.

    Either pass a transition matrix (``changed_share(matrix)``) or two class maps and the cell area.

    Returns
    -------
    float, percent: ``100 * (1 - trace / total)``.
    """
    m = lc_from if isinstance(lc_from, pd.DataFrame) else transition_matrix(lc_from, lc_to, cell_area, k)
    total = float(m.to_numpy().sum())
    if total <= 0:
        return float("nan")
    return 100.0 * (1.0 - float(np.trace(m.to_numpy())) / total)
