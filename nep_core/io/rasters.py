"""Rasters onto the analysis grid: GeoTIFF reading, tile mosaics (:func:`mosaic`), exact slicing or
warping (:func:`to_grid`), coverage checks, the DEM and the GeoTIFF writer."""
from __future__ import annotations

import glob as _glob
import os
import re
from collections import namedtuple
from pathlib import Path

import numpy as np
import xarray as xr

from ..crs import CRS_ALBERS, grid_transform
from ..errors import NepInputError
from ..vocab import check_plausible, check_units

#: Reason code of a grid cell no source pixel covers (missing tile / no overlap); never stored: a
#: region cell with it raises in :func:`check_coverage`.
UNCOVERED = 100


def expand_paths(paths_or_glob, what: str = "files") -> list[Path]:
    """Sorted files named by a path, a glob pattern or a list of either; none is an error."""
    items = [paths_or_glob] if isinstance(paths_or_glob, (str, os.PathLike)) else list(paths_or_glob)
    out = set()
    for item in items:
        hits = _glob.glob(os.path.expanduser(str(item)))        # a plain path: itself, if it exists
        if not hits:
            raise NepInputError(f"no {what} match this path or pattern", file=item)
        out.update(Path(h) for h in hits)
    return sorted(out)


def year_of(path) -> int:
    """Year of a MODIS file from its name: ``AYYYYDDD`` (MODIS naming) or a lone 4-digit year."""
    name = Path(path).name
    m = re.search(r"A((?:19|20)\d\d)(\d{3})", name)
    if m:
        return int(m.group(1))
    years = set(re.findall(r"(?<!\d)((?:19|20)\d\d)(?!\d)", name))
    if len(years) != 1:
        raise NepInputError("cannot tell the year from the file name (expected 'AYYYYDDD' or one "
                            "4-digit year)", file=path)
    return int(years.pop())


def files_by_year(files, years, pattern, what: str) -> dict:
    """``{year: [files]}`` by :func:`year_of`; a year of ``years`` without a file raises."""
    by_year: dict[int, list] = {}
    for f in files:
        by_year.setdefault(year_of(f), []).append(f)
    missing = [y for y in years if y not in by_year]
    if missing:
        raise NepInputError(f"{what}: no file for year(s) {missing} (years found: {sorted(by_year)})",
                            file=pattern, variable=f"year {missing[0]}")
    return by_year


Raster = namedtuple("Raster", "values reason transform crs file")
Raster.__doc__ = ("A decoded source raster: values (float with NaN masked, or class codes), int8 "
                  "reason codes (:mod:`nep_core.reasons`, :data:`UNCOVERED` where no pixel), affine "
                  "``transform``, ``crs`` (anything pyproj reads) and the ``file`` it came from.")


def read_geotiff(path):
    """Band 1 of a GeoTIFF, raw, as ``(raw, attrs, transform, crs_wkt)``; no CRS or an unreadable file
    raises. ``attrs``: the dataset tags, the band tags prefixed ``band_``, and ``_nodata``, ``_scale``,
    ``_offset`` of band 1."""
    import rasterio

    try:
        with rasterio.open(path) as src:
            attrs = {**src.tags(), **{f"band_{k}": v for k, v in src.tags(1).items()},
                     "_nodata": src.nodata, "_scale": src.scales[0], "_offset": src.offsets[0]}
            raw, transform, crs = src.read(1), src.transform, src.crs
    except Exception as exc:
        raise NepInputError(f"cannot read raster (corrupt or truncated?): {exc}", file=path) from exc
    if crs is None:
        raise NepInputError("raster has no CRS; cannot place it on the grid", file=path, variable="crs")
    return raw, attrs, transform, crs.to_wkt()


def mosaic(rasters: list[Raster]) -> Raster:
    """Join the tiles of one year on their common grid (same CRS and pixel size, whole-pixel offsets);
    cells no tile covers get reason :data:`UNCOVERED`. Different CRSs or pixel sizes, misaligned or
    overlapping tiles raise. Placed by slicing: rioxarray's ``merge_arrays`` gives the same arrays
    about 30 times slower and with more memory (data/benchmarks/README.md)."""
    from affine import Affine
    from pyproj import CRS

    if len(rasters) == 1:
        return rasters[0]
    first = rasters[0]
    resx, resy = first.transform.a, first.transform.e
    for r in rasters[1:]:
        if not CRS.from_user_input(r.crs).equals(CRS.from_user_input(first.crs)):
            raise NepInputError(f"tiles of one year are in different CRSs ({first.file.name} vs this)",
                                file=r.file, variable="crs")
        if abs(r.transform.a - resx) > 1e-6 * abs(resx) or abs(r.transform.e - resy) > 1e-6 * abs(resy):
            raise NepInputError("tiles of one year have different pixel sizes", file=r.file)
    x0 = min(r.transform.c for r in rasters)
    y0 = max(r.transform.f for r in rasters)
    offs = []
    for r in rasters:
        cx = (r.transform.c - x0) / resx
        cy = (r.transform.f - y0) / resy
        if abs(cx - round(cx)) > 1e-3 or abs(cy - round(cy)) > 1e-3:
            raise NepInputError("tile is not aligned with the other tiles of its year", file=r.file)
        offs.append((int(round(cy)), int(round(cx))))
    ny = max(o[0] + r.values.shape[0] for o, r in zip(offs, rasters))
    nx = max(o[1] + r.values.shape[1] for o, r in zip(offs, rasters))
    dt = first.values.dtype
    vals = np.full((ny, nx), np.nan if np.issubdtype(dt, np.floating) else 0, dt)
    reason = np.full((ny, nx), UNCOVERED, np.int8)
    for (oy, ox), r in zip(offs, rasters):
        h, w = r.values.shape
        if np.any(reason[oy:oy + h, ox:ox + w] != UNCOVERED):
            raise NepInputError("tiles of one year overlap (duplicate tile?)", file=r.file)
        vals[oy:oy + h, ox:ox + w] = r.values
        reason[oy:oy + h, ox:ox + w] = r.reason
    return Raster(vals, reason, Affine(resx, 0, x0, 0, resy, y0), first.crs, first.file)


def georef(arr, transform, crs, nodata=None) -> xr.DataArray:
    """A 2-D array as a ``(y, x)`` DataArray georeferenced for rioxarray by ``transform`` and ``crs``
    only (no coordinates: the transform is used exactly). A view of ``arr`` (``inplace=True``: the
    ``rio.write_*`` default deep-copies the array each time)."""
    import rioxarray  # noqa: F401  (registers the .rio accessor)

    da = xr.DataArray(arr, dims=("y", "x"))
    da.rio.write_crs(crs, inplace=True).rio.write_transform(transform, inplace=True)
    if nodata is not None:
        da.rio.write_nodata(nodata, inplace=True)
    return da


def _aligned_window(src_transform, src_crs, grid):
    """Row/col offsets if the source is on the grid's own lattice (same CRS and cell), else None."""
    from pyproj import CRS

    gt, st = grid_transform(grid), src_transform
    cx, cy = (gt.c - st.c) / gt.a, (gt.f - st.f) / gt.e
    if (abs(st.a - gt.a) > 1e-6 or abs(st.e - gt.e) > 1e-6 or st.b != 0 or st.d != 0
            or abs(cx - round(cx)) > 1e-6 or abs(cy - round(cy)) > 1e-6
            or not CRS.from_user_input(src_crs).equals(CRS.from_user_input(CRS_ALBERS))):
        return None
    return int(round(cy)), int(round(cx))


def to_grid(arr, src_transform, src_crs, grid, resampling: str, fill):
    """A 2-D source array on the analysis grid, of ``arr``'s dtype, ``fill`` where no source pixel.

    Exact slicing when the source lies on the grid's own lattice (same CRS and cell size, whole-cell
    offset: a warp gives the same values 2-4 times slower); otherwise rioxarray's ``reproject_match``
    (a GDAL warp) with the named ``resampling`` (``"average"``, ``"mode"``, ``"bilinear"``, ...),
    NaN source pixels excluded for float arrays.
    """
    from rasterio.enums import Resampling

    ny, nx = grid.sizes["y"], grid.sizes["x"]
    off = _aligned_window(src_transform, src_crs, grid)
    if off is not None:
        out = np.full((ny, nx), fill, arr.dtype)
        oy, ox = off
        sy0, sx0 = max(oy, 0), max(ox, 0)
        sy1, sx1 = min(oy + ny, arr.shape[0]), min(ox + nx, arr.shape[1])
        if sy1 > sy0 and sx1 > sx0:
            out[sy0 - oy:sy1 - oy, sx0 - ox:sx1 - ox] = arr[sy0:sy1, sx0:sx1]
        return out
    src_nodata = np.nan if np.issubdtype(arr.dtype, np.floating) else None
    template = georef(np.broadcast_to(arr.dtype.type(fill), (ny, nx)), grid_transform(grid), CRS_ALBERS)
    src = georef(arr, src_transform, src_crs, src_nodata)
    return src.rio.reproject_match(template, resampling=getattr(Resampling, resampling), nodata=fill).values


def check_coverage(reason_grid, region, file, what: str, year):
    """Raise, naming ``what``, ``year`` and ``file``, where region cells are :data:`UNCOVERED`."""
    unc = (reason_grid == UNCOVERED) & region
    if unc[region].all():
        raise NepInputError(f"{what} {year}: no overlap with the study region (wrong CRS or area?)",
                            file=file)
    if unc.any():
        raise NepInputError(f"{what} {year}: {int(unc.sum())} of {int(region.sum())} region cells are "
                            "not covered by any file (missing tile?)", file=file)


def grid_coords(grid) -> dict:
    """The ``x``, ``y`` (and ``spatial_ref``, if any) coordinates of a grid, for a reader's output."""
    return {k: grid[k] for k in ("x", "y", "spatial_ref") if k in grid.coords}


def read_dem(path, grid: xr.Dataset, *, check_ranges: bool = True) -> xr.DataArray:
    """A DEM GeoTIFF (any CRS; a ``units`` tag, if any, must be metres) bilinearly onto the grid.

    Returns ``elevation (y, x)`` float32, m, NaN outside the DEM; region cells without an elevation,
    or elevations outside -500..9000 m, raise, and so does a region median or spread outside
    ``vocab.QUANTITIES["elevation"].plausible`` (a DEM in km, a constant DEM); with ``check_ranges=False``
    (config ``checks.plausible_ranges``) that one warns.
    """
    raw, attrs, transform, crs = read_geotiff(path)
    check_units(attrs.get("units", attrs.get("band_units")), "elevation", file=path, variable="units",
                missing_ok=True)
    vals = raw.astype(np.float32)
    if attrs["_nodata"] is not None:
        vals[raw == attrs["_nodata"]] = np.nan
    cover = np.where(np.isfinite(vals), np.int8(0), np.int8(UNCOVERED - 1))
    elev = to_grid(vals, transform, crs, grid, "bilinear", np.float32(np.nan))
    c = to_grid(cover, transform, crs, grid, "nearest", np.int8(UNCOVERED))
    region = grid["region"].values
    check_coverage(c, region, path, "DEM", "(static)")
    miss = region & ~np.isfinite(elev)
    if miss.any():
        raise NepInputError(f"{int(miss.sum())} region cells have no elevation (DEM nodata)",
                            file=path, variable="elevation")
    if np.nanmax(elev[region]) > 9000 or np.nanmin(elev[region]) < -500:
        raise NepInputError("elevations outside -500..9000 m: wrong units or nodata not declared",
                            file=path, variable="elevation")
    check_plausible(elev[region], "elevation", file=path, variable="elevation", strict=check_ranges,
                    hint="a DEM in km holds values near 0.1..5; a constant DEM has no spread")
    return xr.DataArray(elev, dims=("y", "x"), coords=grid_coords(grid), name="elevation",
                        attrs={"units": "m", "long_name": "elevation above sea level",
                               "description": f"DEM {Path(path).name}, bilinear onto the grid"})


def write_geotiff(arr: np.ndarray, path, grid: xr.Dataset, *, nodata=None, tags: dict | None = None):
    """Write one band on the analysis grid as a deflated GeoTIFF, atomically (temp + os.replace)."""
    import rasterio

    from ..store import atomic_path

    ny, nx = grid["region"].shape
    tiles = dict(tiled=True, blockxsize=256, blockysize=256) if min(ny, nx) >= 256 else {}
    with atomic_path(Path(path)) as tmp:
        with rasterio.open(tmp, "w", driver="GTiff", width=nx, height=ny, count=1, dtype=arr.dtype.name,
                           crs=CRS_ALBERS, transform=grid_transform(grid), nodata=nodata,
                           compress="deflate", **tiles) as dst:
            dst.write(arr, 1)
            if tags:
                dst.update_tags(**tags)
    return Path(path)
