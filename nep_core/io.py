"""Readers (and writers) of the study's real input formats; the synthetic scenario uses the same ones.

Every reader checks what it is given (CRS, extent, year coverage, scale / fill, units) and fails
with :class:`nep_core.errors.NepInputError` naming the file, the variable and the problem, or masks
a pixel with a reason code (:mod:`nep_core.reasons`). Nothing is silently dropped.

Products
--------
MOD17A3HGF (annual NPP, 500 m)
    HDF4-EOS tiles (SDS ``Npp_500m``, int16, ``scale_factor`` 0.0001 kg C m-2 a-1, ``_FillValue``
    32767, ``valid_range`` -30000..32700; grid from ``StructMetadata.0``, cross-checked with the
    ``hHHvVV`` tile number of the file name) or GeoTIFF exports (int16 raw codes, same scale, any
    CRS declared in the file). Codes 32761..32767 are MOD17 fill / non-vegetated land-cover codes
    (MOD17 User's Guide: 32761 unclassified, 32762 urban / built-up, 32763 permanent wetland,
    32764 permanent snow and ice, 32765 barren / sparsely vegetated, 32766 water, 32767 fill);
    they become NaN with reason ``NPP_FILL``; other values outside the valid range become NaN with
    ``OUT_OF_RANGE``. Values are raw * 0.0001 kg C m-2 a-1 * 1000 = g C m-2 a-1.
MCD12Q1 LC_Type1 (annual IGBP land cover, 500 m)
    HDF4 tiles (SDS ``LC_Type1``, uint8 1..17, fill 255) or GeoTIFF; recoded to the study's seven
    classes with :data:`IGBP_TO_CLASS`, then resampled by mode (majority).
Station tables
    Two layouts, both documented in :func:`read_stations`.
DEM
    Any single-band GeoTIFF in metres with a CRS.
Boundaries
    GeoJSON (RFC 7946, WGS84 lon/lat) or ESRI shapefile with a ``.prj`` (read with pyshp).
"""
from __future__ import annotations

import glob as _glob
import json
import os
import re
from collections import namedtuple
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from . import reasons
from .errors import NepInputError
from .grid import CRS_ALBERS, PROVINCES, grid_transform, lonlat_to_xy

# ----------------------------------------------------------------------------------------- tables
#: The study's seven land-cover classes (code -> name); 0 = no data.
LC_CLASSES = {1: "forest", 2: "grassland", 3: "cropland", 4: "wetland", 5: "urban and built-up",
              6: "water", 7: "barren"}

#: IGBP (MCD12Q1 LC_Type1) -> study class. Choices (the study does not give its table):
#: 1-5 forests -> forest; 6 closed shrublands -> forest (canopy > 60 %, counted as woodland in
#: China's land-use classification); 7 open shrublands, 8 woody savannas, 9 savannas,
#: 10 grasslands -> grassland; 11 permanent wetlands -> wetland; 12 croplands and 14
#: cropland/natural vegetation mosaics -> cropland; 13 urban -> urban and built-up; 15 permanent
#: snow and ice and 16 barren -> barren (the study has no snow class); 17 water -> water;
#: 255 fill (and 0, MCD12C1's water code, never seen in MCD12Q1) -> see read_landcover.
IGBP_TO_CLASS = {1: 1, 2: 1, 3: 1, 4: 1, 5: 1, 6: 1, 7: 2, 8: 2, 9: 2, 10: 2, 11: 4, 12: 3, 13: 5,
                 14: 3, 15: 7, 16: 7, 17: 6}
IGBP_NAMES = {1: "evergreen needleleaf forests", 2: "evergreen broadleaf forests",
              3: "deciduous needleleaf forests", 4: "deciduous broadleaf forests", 5: "mixed forests",
              6: "closed shrublands", 7: "open shrublands", 8: "woody savannas", 9: "savannas",
              10: "grasslands", 11: "permanent wetlands", 12: "croplands", 13: "urban and built-up",
              14: "cropland/natural vegetation mosaics", 15: "permanent snow and ice", 16: "barren",
              17: "water bodies"}
LC_FILL = 255

_LUT = np.zeros(256, np.int8)
for _k, _v in IGBP_TO_CLASS.items():
    _LUT[_k] = _v

MOD17_SCALE = 0.0001            # kg C m-2 a-1 per raw unit
MOD17_VALID_RANGE = (-30000, 32700)
MOD17_FILL_CODES = {32761: "unclassified", 32762: "urban or built-up", 32763: "permanent wetland",
                    32764: "permanent snow and ice", 32765: "barren or sparsely vegetated",
                    32766: "water", 32767: "fill"}
NPP_UNITS = "g C m-2 a-1"

#: MODIS sinusoidal projection (sphere R = 6371007.181 m) and its tile system.
CRS_MODIS_SINU = "+proj=sinu +lon_0=0 +x_0=0 +y_0=0 +R=6371007.181 +units=m +no_defs"
MODIS_TILE_M = 1111950.5196666666
MODIS_X0 = -20015109.354
MODIS_Y0 = 10007554.677

_UNCOVERED = 100  # internal reason: no source pixel at all (missing tile / no overlap)

Boundary = namedtuple("Boundary", "code name adcode geometry")
Boundary.__doc__ = "A province outline: analysis code 1..5, name, adcode, shapely geometry (WGS84 lon/lat)."


# ----------------------------------------------------------------------------------------- files
def expand_paths(paths_or_glob, what: str = "files") -> list[Path]:
    """Sorted files named by a path, a glob pattern or a list of either; none is an error."""
    if isinstance(paths_or_glob, (str, os.PathLike)):
        items = [paths_or_glob]
    else:
        items = list(paths_or_glob)
    out = []
    for item in items:
        s = os.path.expanduser(str(item))
        hits = sorted(_glob.glob(s)) if any(c in s for c in "*?[") else ([s] if os.path.exists(s) else [])
        if not hits:
            raise NepInputError(f"no {what} match this path or pattern", file=item)
        out.extend(Path(h) for h in hits)
    return sorted(set(out))


_ADATE = re.compile(r"A((?:19|20)\d\d)(\d{3})")
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)")
_TILE = re.compile(r"h(\d\d)v(\d\d)")


def year_of(path) -> int:
    """Year of a MODIS file from its name: ``AYYYYDDD`` (MODIS naming) or a lone 4-digit year."""
    name = Path(path).name
    m = _ADATE.search(name)
    if m:
        return int(m.group(1))
    years = set(_YEAR.findall(name))
    if len(years) != 1:
        raise NepInputError("cannot tell the year from the file name (expected 'AYYYYDDD' or one "
                            "4-digit year)", file=path)
    return int(years.pop())


def _tile_of(path):
    m = _TILE.search(Path(path).name)
    return (int(m.group(1)), int(m.group(2))) if m else None


# ----------------------------------------------------------------------------------------- boundaries
def _match_province(props: dict, file) -> tuple[int, str, int | None]:
    by_code = {p.code: p for p in PROVINCES}
    by_ad = {p.adcode: p for p in PROVINCES}
    by_name = {p.name.lower(): p for p in PROVINCES}
    lower = {str(k).lower(): v for k, v in props.items()}
    for key in ("adcode", "code", "name"):
        if key in lower and lower[key] is not None:
            v = lower[key]
            try:
                iv = int(v)
            except (TypeError, ValueError):
                iv = None
            if key == "adcode" and iv in by_ad:
                p = by_ad[iv]
            elif key == "code" and iv in by_code:
                p = by_code[iv]
            elif key == "code" and iv in by_ad:
                p = by_ad[iv]
            elif key == "name" and str(v).strip().lower() in by_name:
                p = by_name[str(v).strip().lower()]
            else:
                continue
            return p.code, p.name, p.adcode
    raise NepInputError(f"feature with properties {props!r} is not one of the five provinces "
                        "(need adcode 610000..650000, code 1..5 or an English name)", file=file)


def _check_lonlat(geom, file):
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 360 and -90 <= miny <= maxy <= 90):
        raise NepInputError(f"coordinates {geom.bounds} are not WGS84 degrees; GeoJSON must be "
                            "lon/lat (RFC 7946) and a shapefile needs a .prj", file=file)


def read_boundaries(path) -> list[Boundary]:
    """Province outlines from a GeoJSON or a shapefile.

    Parameters
    ----------
    path : str or path
        ``.geojson`` / ``.json`` (WGS84 lon/lat; a legacy ``crs`` member other than WGS84/CRS84 is
        an error) or ``.shp`` (its ``.prj`` is required; geometries are reprojected to WGS84).
        Each feature is matched to a province by ``adcode``, ``code`` or ``name``.

    Returns
    -------
    list of Boundary
        ``(code, name, adcode, geometry)`` sorted by code, one per province (several features of
        one province are unioned). No GeoDataFrame.
    """
    import shapely
    from shapely.geometry import shape

    path = Path(path)
    if not path.exists():
        raise NepInputError("boundary file does not exist", file=path)
    feats = []
    if path.suffix.lower() in (".geojson", ".json"):
        try:
            doc = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise NepInputError(f"not valid GeoJSON: {exc}", file=path) from exc
        crs = (doc.get("crs") or {}).get("properties", {}).get("name")
        if crs is not None and not re.search(r"(CRS84|EPSG:+4326)$", str(crs)):
            raise NepInputError(f"GeoJSON declares CRS {crs!r}; only WGS84 lon/lat is accepted",
                                file=path, variable="crs")
        items = doc.get("features") if doc.get("type") == "FeatureCollection" else [doc]
        for f in items or []:
            try:
                geom = shape(f["geometry"])
            except Exception as exc:
                raise NepInputError(f"unreadable geometry: {exc}", file=path) from exc
            feats.append((f.get("properties") or {}, geom))
        src_crs = "EPSG:4326"
    elif path.suffix.lower() == ".shp":
        import shapefile  # pyshp
        from pyproj import CRS

        prj = path.with_suffix(".prj")
        if not prj.exists():
            raise NepInputError("shapefile has no .prj: its CRS is unknown", file=path, variable="crs")
        try:
            src_crs = CRS.from_wkt(prj.read_text()).to_string()
        except Exception as exc:
            raise NepInputError(f"cannot parse the .prj: {exc}", file=prj, variable="crs") from exc
        try:
            with shapefile.Reader(str(path)) as r:
                fields = [f[0] for f in r.fields[1:]]
                for sr in r.iterShapeRecords():
                    feats.append((dict(zip(fields, sr.record)), shape(sr.shape.__geo_interface__)))
        except shapefile.ShapefileException as exc:
            raise NepInputError(f"cannot read shapefile: {exc}", file=path) from exc
    else:
        raise NepInputError("boundaries must be .geojson/.json or .shp", file=path)
    if not feats:
        raise NepInputError("no features", file=path)
    merged: dict[int, list] = {}
    meta = {}
    for props, geom in feats:
        code, name, adcode = _match_province(props, path)
        if src_crs != "EPSG:4326":
            from .grid import project_geometry

            geom = project_geometry(geom, src_crs, "EPSG:4326")
        _check_lonlat(geom, path)
        if not geom.is_valid:
            geom = shapely.make_valid(geom)
        merged.setdefault(code, []).append(geom)
        meta[code] = (name, adcode)
    return [Boundary(c, meta[c][0], meta[c][1], shapely.union_all(merged[c])) for c in sorted(merged)]


# ----------------------------------------------------------------------------------------- rasters
class _Raster:
    """A decoded source raster: float values (NaN masked), reason codes, georeferencing."""

    def __init__(self, values, reason, transform, crs, file):
        self.values, self.reason, self.transform, self.crs, self.file = values, reason, transform, crs, file


def _struct_metadata(text: str, file):
    def grab(key, pattern=r"([-\d.eE+]+)"):
        m = re.search(rf"\b{key}\s*=\s*{pattern}", text)
        if not m:
            raise NepInputError(f"StructMetadata.0 has no {key}", file=file, variable="StructMetadata.0")
        return m

    nx = int(grab("XDim").group(1))
    ny = int(grab("YDim").group(1))
    ul = grab("UpperLeftPointMtrs", r"\(\s*([-\d.eE+]+)\s*,\s*([-\d.eE+]+)\s*\)")
    lr = grab("LowerRightMtrs", r"\(\s*([-\d.eE+]+)\s*,\s*([-\d.eE+]+)\s*\)")
    proj = grab("Projection", r"(\w+)").group(1)
    if proj != "GCTP_SNSOID":
        raise NepInputError(f"projection {proj} not supported (MODIS tiles are GCTP_SNSOID)",
                            file=file, variable="StructMetadata.0")
    m = re.search(r"ProjParams\s*=\s*\(\s*([-\d.eE+]+)", text)
    radius = float(m.group(1)) if m else 6371007.181
    if abs(radius - 6371007.181) > 1.0:
        raise NepInputError(f"sinusoidal sphere radius {radius} is not MODIS's 6371007.181 m",
                            file=file, variable="StructMetadata.0")
    return nx, ny, (float(ul.group(1)), float(ul.group(2))), (float(lr.group(1)), float(lr.group(2)))


def _read_hdf4(path, sds_name):
    from affine import Affine

    try:
        from pyhdf.SD import SD, SDC
        from pyhdf.error import HDF4Error
    except ImportError as exc:  # pragma: no cover - pyhdf is a declared dependency
        raise NepInputError("reading HDF4 needs pyhdf", file=path) from exc
    try:
        sd = SD(str(path), SDC.READ)
    except HDF4Error as exc:
        raise NepInputError(f"cannot open as HDF4 (corrupt or truncated?): {exc}", file=path) from exc
    try:
        if sds_name not in sd.datasets():
            raise NepInputError(f"no SDS {sds_name!r}; found {sorted(sd.datasets())}", file=path,
                                variable=sds_name)
        meta = sd.attributes().get("StructMetadata.0")
        if meta is None:
            raise NepInputError("no StructMetadata.0: the tile grid (and CRS) is unknown", file=path,
                                variable="StructMetadata.0")
        sds = sd.select(sds_name)
        try:
            attrs = sds.attributes()
            raw = sds.get()
        except HDF4Error as exc:
            raise NepInputError(f"cannot read the data (corrupt or truncated?): {exc}", file=path,
                                variable=sds_name) from exc
        finally:
            sds.endaccess()
    finally:
        sd.end()
    nx, ny, ul, lr = _struct_metadata(meta, path)
    if raw.shape != (ny, nx):
        raise NepInputError(f"SDS shape {raw.shape} differs from StructMetadata ({ny}, {nx})",
                            file=path, variable=sds_name)
    tile = _tile_of(path)
    if tile is not None:
        h, v = tile
        exp = (MODIS_X0 + h * MODIS_TILE_M, MODIS_Y0 - v * MODIS_TILE_M)
        if abs(exp[0] - ul[0]) > 1.0 or abs(exp[1] - ul[1]) > 1.0:
            raise NepInputError(f"StructMetadata corner {ul} does not match tile h{h:02d}v{v:02d} "
                                f"(expected {exp})", file=path, variable="StructMetadata.0")
    transform = Affine((lr[0] - ul[0]) / nx, 0.0, ul[0], 0.0, (lr[1] - ul[1]) / ny, ul[1])
    return raw, attrs, transform, CRS_MODIS_SINU


def _read_geotiff(path):
    import rasterio
    from rasterio.errors import RasterioIOError

    try:
        with rasterio.open(path) as src:
            if src.crs is None:
                raise NepInputError("raster has no CRS; cannot place it on the grid", file=path,
                                    variable="crs")
            raw = src.read(1)
            attrs = dict(src.tags())
            attrs.update({f"band_{k}": v for k, v in src.tags(1).items()})
            attrs["_nodata"] = src.nodata
            attrs["_scale"] = src.scales[0]
            attrs["_offset"] = src.offsets[0]
            return raw, attrs, src.transform, src.crs.to_wkt()
    except NepInputError:
        raise
    except (RasterioIOError, Exception) as exc:
        raise NepInputError(f"cannot read raster (corrupt or truncated?): {exc}", file=path) from exc


def _decode_npp(path) -> _Raster:
    p = Path(path)
    if p.suffix.lower() in (".hdf", ".h4", ".hdf4"):
        raw, attrs, transform, crs = _read_hdf4(p, "Npp_500m")
        scale = float(np.ravel(attrs.get("scale_factor", MOD17_SCALE))[0])
        vr = attrs.get("valid_range", MOD17_VALID_RANGE)
        fill = attrs.get("_FillValue", 32767)
        units = attrs.get("units", "kg C/m^2")
    else:
        raw, attrs, transform, crs = _read_geotiff(p)
        units = attrs.get("units", attrs.get("band_units"))
        if np.issubdtype(raw.dtype, np.floating):
            if units not in ("g C m-2 a-1", "kg C m-2 a-1", "kg C/m^2"):
                raise NepInputError(f"float NPP raster with undeclared or unknown unit {units!r}; "
                                    "declare units 'g C m-2 a-1' or 'kg C m-2 a-1' in the GeoTIFF tags",
                                    file=p, variable="units")
            f = 1.0 if units == "g C m-2 a-1" else 1000.0
            vals = raw.astype(np.float32) * np.float32(f)
            bad = ~np.isfinite(vals)
            if attrs["_nodata"] is not None:
                bad |= raw == attrs["_nodata"]
            reason = np.where(bad, reasons.NPP_FILL, reasons.VALID).astype(np.int8)
            return _Raster(np.where(bad, np.nan, vals).astype(np.float32), reason, transform, crs, p)
        scale = float(attrs.get("scale_factor", attrs["_scale"] if attrs["_scale"] not in (None, 1.0)
                                else MOD17_SCALE))
        vr = MOD17_VALID_RANGE
        fill = attrs["_nodata"] if attrs["_nodata"] is not None else 32767
    if raw.dtype != np.int16:
        raise NepInputError(f"MOD17A3HGF Npp_500m must be int16 raw codes, got {raw.dtype}",
                            file=p, variable="Npp_500m")
    if abs(scale - MOD17_SCALE) > 1e-12:
        raise NepInputError(f"scale_factor {scale} is not MOD17A3HGF's 0.0001 kg C m-2 a-1",
                            file=p, variable="scale_factor")
    if units is not None and str(units).replace(" ", "") not in ("kgC/m^2", "kgCm-2a-1", "kgC/m^2/yr",
                                                               "kgCm-2yr-1", "kgC/m2"):
        raise NepInputError(f"unexpected units {units!r} for raw MOD17A3HGF codes", file=p,
                            variable="units")
    lo, hi = (int(np.ravel(vr)[0]), int(np.ravel(vr)[1]))
    r = raw.astype(np.int32)
    valid = (r >= lo) & (r <= hi)
    is_fill = (r >= 32761) & (r <= 32767) | (r == int(fill))
    reason = np.full(raw.shape, reasons.OUT_OF_RANGE, np.int8)
    reason[valid] = reasons.VALID
    reason[is_fill & ~valid] = reasons.NPP_FILL
    vals = np.where(valid, r.astype(np.float32) * np.float32(scale * 1000.0), np.nan).astype(np.float32)
    return _Raster(vals, reason, transform, crs, p)


def _mosaic(rasters: list[_Raster]) -> _Raster:
    """Join tiles of one year on their common grid (same CRS and pixel size, integer offsets)."""
    from affine import Affine
    from pyproj import CRS

    if len(rasters) == 1:
        return rasters[0]
    first = rasters[0]
    c0 = CRS.from_user_input(first.crs)
    resx, resy = first.transform.a, first.transform.e
    for r in rasters[1:]:
        if not CRS.from_user_input(r.crs).equals(c0):
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
    reason = np.full((ny, nx), _UNCOVERED, np.int8)
    for (oy, ox), r in zip(offs, rasters):
        h, w = r.values.shape
        if np.any(reason[oy:oy + h, ox:ox + w] != _UNCOVERED):
            raise NepInputError("tiles of one year overlap (duplicate tile?)", file=r.file)
        vals[oy:oy + h, ox:ox + w] = r.values
        reason[oy:oy + h, ox:ox + w] = r.reason
    return _Raster(vals, reason, Affine(resx, 0, x0, 0, resy, y0), first.crs, first.file)


def _aligned_window(src_transform, src_crs, shape, grid):
    """Row/col offsets if the source is on the grid's own lattice (same CRS and cell), else None."""
    from pyproj import CRS

    try:
        same = CRS.from_user_input(src_crs).equals(CRS.from_user_input(CRS_ALBERS))
    except Exception:
        return None
    gt = grid_transform(grid)
    if not same or abs(src_transform.a - gt.a) > 1e-6 or abs(src_transform.e - gt.e) > 1e-6:
        return None
    if src_transform.b != 0 or src_transform.d != 0:
        return None
    cx = (gt.c - src_transform.c) / gt.a
    cy = (gt.f - src_transform.f) / gt.e
    if abs(cx - round(cx)) > 1e-6 or abs(cy - round(cy)) > 1e-6:
        return None
    return int(round(cy)), int(round(cx))


def _to_grid(arr, src_transform, src_crs, grid, resampling, fill):
    """Put a source array on the analysis grid: exact slicing when aligned, else rasterio warp."""
    from rasterio.warp import Resampling, reproject

    ny, nx = grid.sizes["y"], grid.sizes["x"]
    off = _aligned_window(src_transform, src_crs, arr.shape, grid)
    out = np.full((ny, nx), fill, arr.dtype)
    if off is not None:
        oy, ox = off
        sy0, sx0 = max(oy, 0), max(ox, 0)
        sy1, sx1 = min(oy + ny, arr.shape[0]), min(ox + nx, arr.shape[1])
        if sy1 > sy0 and sx1 > sx0:
            out[sy0 - oy:sy1 - oy, sx0 - ox:sx1 - ox] = arr[sy0:sy1, sx0:sx1]
        return out
    src_nodata = np.nan if np.issubdtype(arr.dtype, np.floating) else None
    reproject(source=arr, destination=out, src_transform=src_transform, src_crs=src_crs,
              dst_transform=grid_transform(grid), dst_crs=CRS_ALBERS, src_nodata=src_nodata,
              dst_nodata=fill, init_dest_nodata=True, resampling=getattr(Resampling, resampling))
    return out


def _coverage_check(reason_grid, region, file, what, year):
    unc = (reason_grid == _UNCOVERED) & region
    if unc[region].all():
        raise NepInputError(f"{what} {year}: no overlap with the study region (wrong CRS or area?)",
                            file=file)
    if unc.any():
        raise NepInputError(f"{what} {year}: {int(unc.sum())} of {int(region.sum())} region cells are "
                            "not covered by any file (missing tile?)", file=file)


def _group_by_year(files, years, pattern, what):
    by_year: dict[int, list] = {}
    for f in files:
        by_year.setdefault(year_of(f), []).append(f)
    missing = [y for y in years if y not in by_year]
    if missing:
        raise NepInputError(f"{what}: no file for year(s) {missing} (years found: {sorted(by_year)})",
                            file=pattern, variable=f"year {missing[0]}")
    return by_year


def _grid_coords(grid):
    c = {"x": grid["x"], "y": grid["y"]}
    if "spatial_ref" in grid.coords:
        c["spatial_ref"] = grid["spatial_ref"]
    return c


def read_npp(paths_or_glob, grid: xr.Dataset, years) -> xr.Dataset:
    """Annual MOD17A3HGF NPP on the analysis grid.

    Parameters
    ----------
    paths_or_glob : str, path or list
        HDF4 tiles (``*.hdf``) and/or GeoTIFF exports; the year comes from the file name
        (``AYYYYDDD`` as in MODIS names, or one 4-digit year). Several tiles of one year are
        mosaicked on their common sinusoidal grid.
    grid : xarray.Dataset
        The analysis grid (:func:`nep_core.grid.make_grid`).
    years : iterable of int
        Years to read; a missing year raises :class:`NepInputError` naming the year and the pattern.

    Returns
    -------
    xarray.Dataset
        ``npp (year, y, x)`` float32 in g C m-2 a-1 (raw * 0.0001 * 1000), and ``npp_reason``
        int8 (0 valid, ``NPP_FILL`` for 32761..32767, ``OUT_OF_RANGE`` for other codes outside
        -30000..32700, ``OUTSIDE_REGION`` outside the provinces).

    Notes
    -----
    Resampling: a file already on the grid's lattice (same CRS and cell size, whole-cell offset) is
    sliced exactly; anything else is warped with ``rasterio.warp.reproject`` using *average* of the
    valid source pixels (fill codes excluded) for the value and *mode* for the reason code, so a
    cell is NaN only when none of its source pixels is valid. Region cells without any source
    pixel raise (missing tile / no overlap). Memory: at 500 m the cube is about 24 x 37 M float32.
    """
    years = [int(y) for y in years]
    files = expand_paths(paths_or_glob, "NPP files")
    by_year = _group_by_year(files, years, paths_or_glob, "MOD17A3HGF NPP")
    region = grid["region"].values
    ny, nx = region.shape
    npp = np.empty((len(years), ny, nx), np.float32)
    why = np.empty((len(years), ny, nx), np.int8)
    for i, y in enumerate(years):
        m = _mosaic([_decode_npp(f) for f in by_year[y]])
        v = _to_grid(m.values, m.transform, m.crs, grid, "average", np.float32(np.nan))
        r = _to_grid(m.reason, m.transform, m.crs, grid, "mode", np.int8(_UNCOVERED))
        _coverage_check(r, region, by_year[y][0], "NPP", y)
        r = np.where(np.isfinite(v), reasons.VALID, np.where(r == reasons.VALID, reasons.NPP_FILL, r))
        r = np.where(region, r, reasons.OUTSIDE_REGION).astype(np.int8)
        v[r != reasons.VALID] = np.nan
        npp[i], why[i] = v, r
    coords = {"year": ("year", np.array(years, np.int64)), **_grid_coords(grid)}
    ds = xr.Dataset(
        {"npp": (("year", "y", "x"), npp, {
            "units": NPP_UNITS, "long_name": "annual net primary productivity",
            "description": "MOD17A3HGF Npp_500m * 0.0001 kg C m-2 a-1 * 1000; average of valid "
                           "source pixels per grid cell",
            "source_files": ", ".join(sorted({str(f) for y in years for f in by_year[y]}))[:4000]}),
         "npp_reason": (("year", "y", "x"), why, reasons.flag_attrs("why npp is missing"))},
        coords=coords)
    return ds


def _decode_lc(path):
    p = Path(path)
    if p.suffix.lower() in (".hdf", ".h4", ".hdf4"):
        raw, attrs, transform, crs = _read_hdf4(p, "LC_Type1")
        fill = int(np.ravel(attrs.get("_FillValue", LC_FILL))[0])
    else:
        raw, attrs, transform, crs = _read_geotiff(p)
        fill = LC_FILL if attrs["_nodata"] is None else int(attrs["_nodata"])
    if raw.dtype != np.uint8:
        raise NepInputError(f"LC_Type1 must be uint8 IGBP codes, got {raw.dtype}", file=p,
                            variable="LC_Type1")
    bad = (raw != fill) & ((raw < 1) | (raw > 17))
    if bad.any():
        vals = np.unique(raw[bad])[:10].tolist()
        raise NepInputError(f"{int(bad.sum())} pixels hold codes {vals} outside IGBP 1..17 "
                            f"(fill {fill}); is this LC_Type1?", file=p, variable="LC_Type1")
    cls = _LUT[raw]
    cls[raw == fill] = 0
    reason = np.where(raw == fill, np.int8(_UNCOVERED - 1), np.int8(0))
    return _Raster(cls, reason, transform, crs, p)


def read_landcover(paths, grid: xr.Dataset, years=range(2000, 2023)) -> xr.DataArray:
    """Annual MCD12Q1 LC_Type1 recoded to the study's seven classes, on the analysis grid.

    Parameters
    ----------
    paths : str, path or list
        HDF4 tiles (SDS ``LC_Type1``) and/or GeoTIFFs (uint8 IGBP 1..17, fill 255), year in the
        file name. Codes outside 1..17 (other than the fill) raise.
    grid : xarray.Dataset
        The analysis grid.
    years : iterable of int, default 2000..2022
        Land-cover years (2023 is absent, as in the study); a missing one raises.

    Returns
    -------
    xarray.DataArray
        ``landcover (lc_year, y, x)`` int8, codes 1..7 of :data:`LC_CLASSES`, 0 = no data (fill,
        or outside the region). IGBP -> class with :data:`IGBP_TO_CLASS` at source resolution,
        then mode (majority) resampling; exact slicing when the file is on the grid's lattice.
    """
    years = [int(y) for y in years]
    files = expand_paths(paths, "land-cover files")
    by_year = _group_by_year(files, years, paths, "MCD12Q1 LC_Type1")
    region = grid["region"].values
    out = np.empty((len(years),) + region.shape, np.int8)
    for i, y in enumerate(years):
        m = _mosaic([_decode_lc(f) for f in by_year[y]])
        cov = _to_grid(m.reason, m.transform, m.crs, grid, "mode", np.int8(_UNCOVERED))
        _coverage_check(cov, region, by_year[y][0], "land cover", y)
        cls = np.where(m.reason == _UNCOVERED, 0, m.values).astype(np.int8)
        c = _to_grid(cls, m.transform, m.crs, grid, "mode", np.int8(0))
        out[i] = np.where(region, c, 0)
    return xr.DataArray(
        out, dims=("lc_year", "y", "x"),
        coords={"lc_year": ("lc_year", np.array(years, np.int64)), **_grid_coords(grid)},
        name="landcover",
        attrs={"long_name": "land-cover class (MCD12Q1 LC_Type1 recoded)", "units": "1",
               "flag_values": np.arange(0, 8, dtype=np.int8),
               "flag_meanings": "no_data " + " ".join(v.replace(" ", "_") for v in LC_CLASSES.values()),
               "igbp_to_class": json.dumps(IGBP_TO_CLASS)})


def read_dem(path, grid: xr.Dataset) -> xr.DataArray:
    """A DEM GeoTIFF (m) resampled bilinearly onto the analysis grid.

    The file must carry a CRS; a ``units`` tag, if present, must be metres. Region cells the DEM
    does not cover raise. Returns ``elevation (y, x)`` float32, m, NaN outside the DEM.
    """
    raw, attrs, transform, crs = _read_geotiff(path)
    units = attrs.get("units", attrs.get("band_units"))
    if units not in (None, "", "m", "metre", "meter", "metres", "meters"):
        raise NepInputError(f"DEM units {units!r}; expected metres", file=path, variable="units")
    vals = raw.astype(np.float32)
    if attrs["_nodata"] is not None:
        vals[raw == attrs["_nodata"]] = np.nan
    cover = np.where(np.isfinite(vals), np.int8(0), np.int8(_UNCOVERED - 1))
    elev = _to_grid(vals, transform, crs, grid, "bilinear", np.float32(np.nan))
    c = _to_grid(cover, transform, crs, grid, "nearest", np.int8(_UNCOVERED))
    region = grid["region"].values
    _coverage_check(c, region, path, "DEM", "(static)")
    miss = region & ~np.isfinite(elev)
    if miss.any():
        raise NepInputError(f"{int(miss.sum())} region cells have no elevation (DEM nodata)",
                            file=path, variable="elevation")
    if np.nanmax(elev[region]) > 9000 or np.nanmin(elev[region]) < -500:
        raise NepInputError("elevations outside -500..9000 m: wrong units or nodata not declared",
                            file=path, variable="elevation")
    return xr.DataArray(elev, dims=("y", "x"), coords=_grid_coords(grid), name="elevation",
                        attrs={"units": "m", "long_name": "elevation above sea level",
                               "description": f"DEM {Path(path).name}, bilinear onto the grid"})


# ----------------------------------------------------------------------------------------- stations
STATION_VARS = ("tmean", "prcp", "rad")
STATION_UNITS = {"tmean": "degC", "prcp": "mm", "rad": "MJ m-2"}
#: Accepted declared units -> (factor, offset) to the canonical unit (value * factor + offset).
UNIT_CONVERSIONS = {
    "tmean": {"degC": (1.0, 0.0), "°C": (1.0, 0.0), "C": (1.0, 0.0), "K": (1.0, -273.15)},
    "prcp": {"mm": (1.0, 0.0), "cm": (10.0, 0.0), "m": (1000.0, 0.0)},
    "rad": {"MJ m-2": (1.0, 0.0), "kJ m-2": (1e-3, 0.0), "J m-2": (1e-6, 0.0)},
    "elevation": {"m": (1.0, 0.0), "km": (1000.0, 0.0)},
}
#: Plausible medians (canonical units) per time step; outside -> "check the declared unit".
_PLAUSIBLE_MEDIAN = {
    "daily": {"tmean": (-40.0, 40.0), "prcp": (0.0, 50.0), "rad": (0.0, 40.0)},
    "monthly": {"tmean": (-40.0, 40.0), "prcp": (0.0, 600.0), "rad": (0.0, 1100.0)},
}
CMA_MISSING = 32766
CMA_COLUMNS = ("station", "lat_ddmm", "lon_dddmm", "elev_01m", "year", "month", "day",
               "tmean_01C", "prcp_01mm", "rad_001MJ")

_HEADER = re.compile(r"^\s*([A-Za-z_]\w*)\s*(?:\[\s*([^\]]*?)\s*\])?\s*$")


def _parse_header(columns, file):
    names, units = [], {}
    for c in columns:
        m = _HEADER.match(str(c))
        if not m:
            raise NepInputError(f"column header {c!r} is not 'name' or 'name[unit]'", file=file)
        names.append(m.group(1).lower())
        if m.group(2) is not None:
            units[m.group(1).lower()] = m.group(2)
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise NepInputError(f"duplicate columns {sorted(dup)}", file=file)
    return names, units


def _numeric(series, name, file, missing_codes=()):
    s = series.replace(list(missing_codes), np.nan) if missing_codes else series
    out = pd.to_numeric(s, errors="coerce")
    bad = out.isna() & s.notna() & ~s.astype(str).str.strip().str.upper().isin(["", "NA", "NAN"])
    if bad.any():
        i = int(np.flatnonzero(bad.values)[0])
        raise NepInputError(f"non-numeric value {s.iloc[i]!r} in data row {i + 1}", file=file,
                            variable=name)
    return out.astype(float)


def _convert(values, var, unit, file):
    if unit is None:
        raise NepInputError(f"no unit declared for {var}; write the header as "
                            f"'{var}[{STATION_UNITS.get(var, 'm')}]'", file=file, variable=var)
    table = UNIT_CONVERSIONS[var]
    if unit not in table:
        raise NepInputError(f"unit {unit!r} not accepted for {var}; accepted: {sorted(table)}",
                            file=file, variable=var)
    f, o = table[unit]
    return values * f + o


def _check_plausible(df, step, file, declared):
    for v in STATION_VARS:
        med = float(np.nanmedian(df[v].values)) if df[v].notna().any() else np.nan
        lo, hi = _PLAUSIBLE_MEDIAN[step][v]
        if np.isfinite(med) and not (lo <= med <= hi):
            raise NepInputError(
                f"median {v} of {med:.4g} {STATION_UNITS[v]} per {step[:-2] if step == 'daily' else 'month'}"
                f" step (declared unit {declared.get(v)!r}) is implausible (expected {lo}..{hi}); "
                "is the declared unit right (e.g. K vs degC, m vs mm)?", file=file, variable=v)
    if (df["prcp"] < 0).any():
        i = int(np.flatnonzero((df["prcp"] < 0).values)[0])
        raise NepInputError(f"negative precipitation in data row {i + 1}", file=file, variable="prcp")


def _station_meta(df, file):
    meta = df.groupby("station", sort=True)[["lon", "lat", "elevation"]]
    spread = meta.max() - meta.min()
    bad = spread[(spread > 1e-6).any(axis=1)]
    if len(bad):
        raise NepInputError(f"duplicate station ids with different coordinates/elevation: "
                            f"{bad.index[:5].tolist()}", file=file, variable="station")
    m = meta.first()
    if m.isna().any().any():
        raise NepInputError(f"stations without lon/lat/elevation: {m.index[m.isna().any(axis=1)][:5].tolist()}",
                            file=file, variable="station")
    if ((m["lon"] < -180) | (m["lon"] > 360) | (m["lat"] < -90) | (m["lat"] > 90)).any():
        raise NepInputError("lon/lat outside degree ranges", file=file, variable="lon/lat")
    return m


def _to_monthly(df, step, file):
    dups = df.duplicated(["station", "date"])
    if dups.any():
        r = df.loc[dups].iloc[0]
        raise NepInputError(f"{int(dups.sum())} duplicate (station, date) rows, e.g. station "
                            f"{r['station']} on {r['date'].date()}", file=file, variable="date")
    if step == "monthly":
        return df.assign(time=df["date"].values.astype("datetime64[M]").astype("datetime64[ns]"))
    df = df.assign(time=df["date"].values.astype("datetime64[M]").astype("datetime64[ns]"))
    g = df.groupby(["station", "time"], sort=True)
    n = g["date"].count()
    agg = pd.DataFrame({"tmean": g["tmean"].mean(), "prcp": g["prcp"].sum(min_count=1),
                        "rad": g["rad"].sum(min_count=1)})
    full = n.index.get_level_values("time").days_in_month
    for v in STATION_VARS:
        complete = (g[v].count().values == full) & (n.values == full)
        agg.loc[~complete, v] = np.nan  # a month is missing unless every day has a value
    return agg.reset_index()


def _assemble(monthly, meta, grid, file, layout, declared):
    stations = meta.index.astype(str).values
    t0, t1 = monthly["time"].min(), monthly["time"].max()
    times = pd.date_range(t0, t1, freq="MS")
    cube = {}
    idx = pd.MultiIndex.from_product([stations, times], names=["station", "time"])
    m = monthly.assign(station=monthly["station"].astype(str)).set_index(["station", "time"])
    m = m.reindex(idx)
    for v in STATION_VARS:
        cube[v] = m[v].values.reshape(len(stations), len(times)).astype(np.float64)
    x, y = lonlat_to_xy(meta["lon"].values, meta["lat"].values)
    ds = xr.Dataset(
        {
            "tmean": (("station", "time"), cube["tmean"], {
                "units": "degC", "long_name": "monthly mean air temperature",
                "cell_methods": "time: mean"}),
            "prcp": (("station", "time"), cube["prcp"], {
                "units": "mm", "long_name": "monthly precipitation total (mm per month)",
                "cell_methods": "time: sum"}),
            "rad": (("station", "time"), cube["rad"], {
                "units": "MJ m-2", "long_name": "monthly global solar radiation total (MJ m-2 per month)",
                "cell_methods": "time: sum"}),
        },
        coords={
            "station": ("station", stations.astype(object)),
            "time": ("time", times.values),
            "lon": ("station", meta["lon"].values, {"units": "degrees_east"}),
            "lat": ("station", meta["lat"].values, {"units": "degrees_north"}),
            "elevation": ("station", meta["elevation"].values, {"units": "m"}),
            "x": ("station", x, {"units": "m", "crs": CRS_ALBERS}),
            "y": ("station", y, {"units": "m", "crs": CRS_ALBERS}),
        },
        attrs={"source_file": str(file), "layout": layout,
               "declared_units": json.dumps(declared),
               "aggregation": "daily -> monthly: T mean, P and radiation sums; a month is missing "
                              "unless all its days have a value"},
    )
    if grid is not None:
        from .grid import grid_transform as _gt

        inv = ~_gt(grid)
        col = np.floor(inv.a * x + inv.b * y + inv.c).astype(np.int64)
        row = np.floor(inv.d * x + inv.e * y + inv.f).astype(np.int64)
        ny, nx = grid["region"].shape
        inside = (row >= 0) & (row < ny) & (col >= 0) & (col < nx)
        in_region = np.zeros(len(stations), bool)
        in_region[inside] = grid["region"].values[row[inside], col[inside]]
        ds = ds.assign_coords(
            in_region=("station", in_region, {"long_name": "station lies inside the study region"}),
            station_reason=("station", np.where(in_region, reasons.VALID, reasons.OUTSIDE_REGION)
                            .astype(np.int8), reasons.flag_attrs("station flag")))
        if not in_region.any():
            raise NepInputError("no station lies inside the study region (wrong coordinates?)",
                                file=file, variable="lon/lat")
    return ds


def read_stations(path, layout: str = "csv", grid: xr.Dataset | None = None) -> xr.Dataset:
    """Station climate table -> monthly ``(station, time)`` Dataset.

    Layout ``"csv"`` (the documented layout)
        Comma-separated, ``#`` comment lines allowed, one row per station and date, header::

            station,lon,lat,elevation[m],date,tmean[degC],prcp[mm],rad[MJ m-2]

        ``date`` is ``YYYY-MM`` (monthly rows: tmean monthly mean, prcp and rad monthly totals)
        or ``YYYY-MM-DD`` (daily rows, aggregated here). Units are declared in brackets and
        converted only as declared: tmean ``degC`` or ``K``; prcp ``mm``, ``cm`` or ``m``; rad
        ``MJ m-2``, ``kJ m-2`` or ``J m-2``; elevation ``m`` or ``km``. An undeclared unit, an
        unknown unit, or a column whose median is implausible for the declared unit (e.g.
        temperatures near 280 declared degC) raises. Missing values: empty, ``NA`` or ``NaN``.
    Layout ``"cma"`` (CMA SURF_CLI_CHN_MUL_DAY-style daily text)
        Whitespace-separated, no header, one row per station-day, the integer columns
        ``station lat lon elev year month day tmean prcp rad`` with lat as ddmm, lon as dddmm,
        elevation in 0.1 m (+100000 when estimated, as in the CMA files), tmean in 0.1 degC, 20-20 h
        precipitation in 0.1 mm, global radiation in 0.01 MJ m-2 (as in SURF_CLI_CHN_RADI_DAY).
        32766 = missing; precipitation 32700 = trace (-> 0) and 30000..32699 = value + a
        30000/31000/32000 flag for snow / rain-and-snow / frost (-> the last three digits).

    Parameters
    ----------
    path : str or path
    layout : {"csv", "cma"}
    grid : xarray.Dataset, optional
        If given, stations are flagged (``in_region``, ``station_reason`` = OUTSIDE_REGION),
        never dropped (stations just outside help the interpolation); none inside raises.

    Returns
    -------
    xarray.Dataset
        Dims ``(station, time)`` with ``time`` monthly (month start, a complete range); variables
        ``tmean`` (degC), ``prcp`` (mm per month), ``rad`` (MJ m-2 per month); coords ``lon``,
        ``lat``, ``elevation`` (m), ``x``, ``y`` (China Albers m). Duplicate station ids with
        different coordinates, and duplicate (station, date) rows, raise. Individual outliers are
        passed through for the QC stage (nep_core.climate) to flag.
    """
    path = Path(path)
    if not path.exists():
        raise NepInputError("station file does not exist", file=path)
    if layout == "csv":
        try:
            df = pd.read_csv(path, comment="#", dtype=str, skipinitialspace=True)
        except Exception as exc:
            raise NepInputError(f"cannot parse as CSV: {exc}", file=path) from exc
        names, declared = _parse_header(df.columns, path)
        df.columns = names
        need = {"station", "lon", "lat", "elevation", "date", *STATION_VARS}
        if need - set(names):
            raise NepInputError(f"missing columns {sorted(need - set(names))}; header must be "
                                "station,lon,lat,elevation[m],date,tmean[degC],prcp[mm],rad[MJ m-2]",
                                file=path)
        if df.empty:
            raise NepInputError("no data rows", file=path)
        df["station"] = df["station"].str.strip()
        for c in ("lon", "lat"):
            df[c] = _numeric(df[c], c, path)
        df["elevation"] = _convert(_numeric(df["elevation"], "elevation", path), "elevation",
                                   declared.get("elevation"), path)
        for v in STATION_VARS:
            df[v] = _convert(_numeric(df[v], v, path), v, declared.get(v), path)
        dates = df["date"].str.strip()
        lens = dates.str.len().unique()
        if set(lens) == {7}:
            step, fmt = "monthly", "%Y-%m"
        elif set(lens) == {10}:
            step, fmt = "daily", "%Y-%m-%d"
        else:
            raise NepInputError("dates must all be YYYY-MM (monthly) or all YYYY-MM-DD (daily)",
                                file=path, variable="date")
        parsed = pd.to_datetime(dates, format=fmt, errors="coerce")
        if parsed.isna().any():
            i = int(np.flatnonzero(parsed.isna().values)[0])
            raise NepInputError(f"unparseable date {dates.iloc[i]!r} in data row {i + 1}", file=path,
                                variable="date")
        df["date"] = parsed
    elif layout == "cma":
        try:
            raw = pd.read_csv(path, sep=r"\s+", header=None, dtype=str, comment="#")
        except Exception as exc:
            raise NepInputError(f"cannot parse as CMA whitespace table: {exc}", file=path) from exc
        if raw.shape[1] != len(CMA_COLUMNS):
            raise NepInputError(f"expected {len(CMA_COLUMNS)} columns {CMA_COLUMNS}, found {raw.shape[1]}",
                                file=path)
        raw.columns = CMA_COLUMNS
        num = {c: _numeric(raw[c], c, path) for c in CMA_COLUMNS[1:]}
        for c in ("lat_ddmm", "lon_dddmm", "elev_01m", "year", "month", "day"):
            if (num[c] == CMA_MISSING).any() or num[c].isna().any():
                raise NepInputError("missing station coordinate or date", file=path, variable=c)
        lat = np.floor(num["lat_ddmm"] / 100) + (num["lat_ddmm"] % 100) / 60.0
        lon = np.floor(num["lon_dddmm"] / 100) + (num["lon_dddmm"] % 100) / 60.0
        e = num["elev_01m"]
        elev = np.where(e >= 100000, e - 100000, e) / 10.0
        t = num["tmean_01C"].where(num["tmean_01C"] != CMA_MISSING) / 10.0
        p = num["prcp_01mm"].where(num["prcp_01mm"] != CMA_MISSING)
        p = p.where(p != 32700, 0.0)
        p = p.where(~((p >= 30000) & (p < 32700)), p % 1000) / 10.0
        r = num["rad_001MJ"].where(num["rad_001MJ"] != CMA_MISSING) / 100.0
        try:
            date = pd.to_datetime(pd.DataFrame({"year": num["year"], "month": num["month"],
                                                "day": num["day"]}))
        except Exception as exc:
            raise NepInputError(f"invalid date: {exc}", file=path, variable="year/month/day") from exc
        df = pd.DataFrame({"station": raw["station"].str.strip(), "lon": lon, "lat": lat,
                           "elevation": elev, "date": date, "tmean": t, "prcp": p, "rad": r})
        step = "daily"
        declared = {"tmean": "0.1 degC", "prcp": "0.1 mm", "rad": "0.01 MJ m-2", "elevation": "0.1 m"}
    else:
        raise NepInputError(f"unknown station layout {layout!r}; use 'csv' or 'cma'",
                            variable="station_layout")
    _check_plausible(df, step, path, declared)
    meta = _station_meta(df, path)
    monthly = _to_monthly(df, step, path)
    return _assemble(monthly, meta, grid, path, layout, declared)


# ----------------------------------------------------------------------------------------- writers
def _grid_profile(grid, dtype, nodata, **extra):
    ny, nx = grid["region"].shape
    blk = 256 if min(ny, nx) >= 256 else None
    prof = dict(driver="GTiff", width=nx, height=ny, count=1, dtype=dtype, crs=CRS_ALBERS,
                transform=grid_transform(grid), nodata=nodata, compress="deflate")
    if blk:
        prof.update(tiled=True, blockxsize=blk, blockysize=blk)
    prof.update(extra)
    return prof


def write_geotiff(arr: np.ndarray, path, grid: xr.Dataset, *, nodata=None, tags: dict | None = None,
                  scale: float | None = None):
    """Write one band on the analysis grid as a compressed GeoTIFF, atomically (temp + os.replace)."""
    import rasterio

    from .store import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        with rasterio.open(tmp, "w", **_grid_profile(grid, arr.dtype.name, nodata)) as dst:
            dst.write(arr, 1)
            if tags:
                dst.update_tags(**tags)
            if scale is not None:
                dst.scales = (scale,)
    return path


def encode_npp(npp_g: np.ndarray, fill_code: np.ndarray | None = None) -> np.ndarray:
    """g C m-2 a-1 -> MOD17A3HGF int16 raw codes (round(value / 0.1)); NaN -> ``fill_code`` (32767)."""
    raw = np.round(np.asarray(npp_g, np.float64) / (MOD17_SCALE * 1000.0))
    bad = ~np.isfinite(raw)
    if np.any((raw[~bad] < MOD17_VALID_RANGE[0]) | (raw[~bad] > MOD17_VALID_RANGE[1])):
        raise NepInputError("NPP outside MOD17A3HGF's valid range -3000..3270 g C m-2 a-1", variable="npp")
    out = np.where(bad, 0, raw).astype(np.int16)
    fc = np.int16(32767) if fill_code is None else fill_code
    return np.where(bad, fc, out).astype(np.int16)


def write_stations_csv(ds: xr.Dataset, path, decimals: int = 2):
    """Write a monthly station Dataset in the documented CSV layout (see :func:`read_stations`)."""
    from .store import atomic_path

    n_s, n_t = ds.sizes["station"], ds.sizes["time"]
    st = np.repeat(ds["station"].values.astype(str), n_t)
    df = pd.DataFrame({
        "station": st,
        "lon": np.repeat(ds["lon"].values, n_t), "lat": np.repeat(ds["lat"].values, n_t),
        "elevation[m]": np.repeat(ds["elevation"].values, n_t),
        "date": np.tile(pd.DatetimeIndex(ds["time"].values).strftime("%Y-%m"), n_s),
        "tmean[degC]": ds["tmean"].values.ravel(), "prcp[mm]": ds["prcp"].values.ravel(),
        "rad[MJ m-2]": ds["rad"].values.ravel(),
    })
    header = ("# NWC station climate, monthly; documented layout of nep_core.io.read_stations\n"
              f"# {ds.attrs.get('title', '')}\n")
    with atomic_path(path) as tmp:
        with open(tmp, "w") as fh:
            fh.write(header)
            df.to_csv(fh, index=False, float_format=f"%.{decimals}f", na_rep="")
    return Path(path)
