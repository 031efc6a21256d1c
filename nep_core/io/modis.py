"""MODIS products: MOD17A3HGF annual NPP and MCD12Q1 LC_Type1 land cover, HDF4-EOS tiles or GeoTIFF.

MOD17A3HGF: SDS ``Npp_500m``, int16, ``scale_factor`` 0.0001 kg C m-2 a-1, ``_FillValue`` 32767,
``valid_range`` -30000..32700; the HDF4 grid comes from ``StructMetadata.0``, cross-checked with the
``hHHvVV`` tile of the file name. GeoTIFF exports hold the same int16 codes (any CRS in the file) or
float values with a declared ``units`` tag. MCD12Q1 LC_Type1: uint8 IGBP 1..17, fill 255.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import xarray as xr

from .. import reasons
from ..errors import NepInputError, warn_input
from ..vocab import LANDCOVER_CLASSES, NEP_UNITS, check_plausible, unit_conversion
from .rasters import (UNCOVERED, Raster, check_coverage, expand_paths, files_by_year, grid_coords, mosaic,
                      read_geotiff, to_grid)

#: IGBP (MCD12Q1 LC_Type1) -> study class. Choices (the study does not give its table):
#: 1-5 forests -> forest; 6 closed shrublands -> forest (canopy > 60 %, counted as woodland in
#: China's land-use classification); 7 open shrublands, 8 woody savannas, 9 savannas,
#: 10 grasslands -> grassland; 11 permanent wetlands -> wetland; 12 croplands and 14
#: cropland/natural vegetation mosaics -> cropland; 13 urban -> urban and built-up; 15 permanent
#: snow and ice and 16 barren -> barren (the study has no snow class); 17 water -> water;
#: 255 fill (and 0, MCD12C1's water code, never seen in MCD12Q1) -> 0, no data.
IGBP_TO_CLASS = {1: 1, 2: 1, 3: 1, 4: 1, 5: 1, 6: 1, 7: 2, 8: 2, 9: 2, 10: 2, 11: 4, 12: 3, 13: 5,
                 14: 3, 15: 7, 16: 7, 17: 6}
LC_FILL = 255
_LUT = np.zeros(256, np.int8)
_LUT[list(IGBP_TO_CLASS)] = list(IGBP_TO_CLASS.values())

MOD17_SCALE = 0.0001            # kg C m-2 a-1 per raw unit
MOD17_VALID_RANGE = (-30000, 32700)
#: MOD17 fill and non-vegetated land-cover codes (MOD17 User's Guide).
MOD17_FILL_CODES = {32761: "unclassified", 32762: "urban or built-up", 32763: "permanent wetland",
                    32764: "permanent snow and ice", 32765: "barren or sparsely vegetated",
                    32766: "water", 32767: "fill"}

#: MODIS sinusoidal projection (sphere R = 6371007.181 m) and its tile system.
CRS_MODIS_SINU = "+proj=sinu +lon_0=0 +x_0=0 +y_0=0 +R=6371007.181 +units=m +no_defs"
MODIS_TILE_M = 1111950.5196666666
MODIS_X0 = -20015109.354
MODIS_Y0 = 10007554.677
_HDF4 = (".hdf", ".h4", ".hdf4")


def recode_igbp(igbp: np.ndarray) -> np.ndarray:
    """IGBP codes (uint8, MCD12Q1 LC_Type1) -> study class codes 1..7 (int8) by :data:`IGBP_TO_CLASS`;
    any other code (fill 255, 0) -> 0."""
    return _LUT[np.asarray(igbp, np.uint8)]


def _struct_metadata(text: str, file):
    """``nx, ny, (ulx, uly), (lrx, lry)`` of a MODIS sinusoidal grid from its ``StructMetadata.0``."""
    def grab(key, pattern=r"([-\d.eE+]+)"):
        m = re.search(rf"\b{key}\s*=\s*{pattern}", text)
        if not m:
            raise NepInputError(f"StructMetadata.0 has no {key}", file=file, variable="StructMetadata.0")
        return m.groups()

    pair = r"\(\s*([-\d.eE+]+)\s*,\s*([-\d.eE+]+)\s*\)"
    nx, ny = int(grab("XDim")[0]), int(grab("YDim")[0])
    ul, lr = (tuple(map(float, grab(k, pair))) for k in ("UpperLeftPointMtrs", "LowerRightMtrs"))
    (proj,) = grab("Projection", r"(\w+)")
    if proj != "GCTP_SNSOID":
        raise NepInputError(f"projection {proj} not supported (MODIS tiles are GCTP_SNSOID)",
                            file=file, variable="StructMetadata.0")
    m = re.search(r"ProjParams\s*=\s*\(\s*([-\d.eE+]+)", text)
    radius = float(m.group(1)) if m else 6371007.181
    if abs(radius - 6371007.181) > 1.0:
        raise NepInputError(f"sinusoidal sphere radius {radius} is not MODIS's 6371007.181 m",
                            file=file, variable="StructMetadata.0")
    return nx, ny, ul, lr


def _read_hdf4(path, sds_name):
    """``(raw, attrs, transform, crs)`` of one SDS of a MODIS HDF4-EOS tile, ``attrs`` holding
    ``_nodata`` (its ``_FillValue``) and ``_scale`` (None) as :func:`~.rasters.read_geotiff` does."""
    from affine import Affine
    from pyhdf.SD import SD, SDC
    from pyhdf.error import HDF4Error

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
            attrs.update(_nodata=attrs.get("_FillValue"), _scale=None)
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
    tile = re.search(r"h(\d\d)v(\d\d)", Path(path).name)
    if tile is not None:
        h, v = int(tile.group(1)), int(tile.group(2))
        exp = (MODIS_X0 + h * MODIS_TILE_M, MODIS_Y0 - v * MODIS_TILE_M)
        if abs(exp[0] - ul[0]) > 1.0 or abs(exp[1] - ul[1]) > 1.0:
            raise NepInputError(f"StructMetadata corner {ul} does not match tile h{h:02d}v{v:02d} "
                                f"(expected {exp})", file=path, variable="StructMetadata.0")
    transform = Affine((lr[0] - ul[0]) / nx, 0.0, ul[0], 0.0, (lr[1] - ul[1]) / ny, ul[1])
    return raw, attrs, transform, CRS_MODIS_SINU


def _decode_npp(path) -> Raster:
    """One NPP file as g C m-2 a-1 (NaN where masked) with reason codes."""
    p = Path(path)
    hdf4 = p.suffix.lower() in _HDF4
    raw, attrs, transform, crs = _read_hdf4(p, "Npp_500m") if hdf4 else read_geotiff(p)
    units = attrs.get("units", attrs.get("band_units"))
    if np.issubdtype(raw.dtype, np.floating):
        if not units:
            raise NepInputError("float NPP raster with undeclared unit; declare units 'g C m-2 a-1' "
                                "or 'kg C m-2 a-1' in the GeoTIFF tags", file=p, variable="units")
        f, _ = unit_conversion(units, "carbon_flux", file=p, variable="units")
        vals = raw.astype(np.float32) * np.float32(f)
        bad = ~np.isfinite(vals)
        if attrs["_nodata"] is not None:
            bad |= raw == attrs["_nodata"]
        reason = np.where(bad, reasons.NPP_FILL, reasons.VALID).astype(np.int8)
        return Raster(np.where(bad, np.nan, vals).astype(np.float32), reason, transform, crs, p)
    scale = float(np.ravel(attrs.get("scale_factor", attrs["_scale"] if attrs["_scale"] not in (None, 1.0)
                                     else MOD17_SCALE))[0])
    vr = attrs.get("valid_range", MOD17_VALID_RANGE) if hdf4 else MOD17_VALID_RANGE
    fill = np.ravel(attrs["_nodata"] if attrs["_nodata"] is not None else 32767)[0]
    if raw.dtype != np.int16:
        raise NepInputError(f"MOD17A3HGF Npp_500m must be int16 raw codes, got {raw.dtype}",
                            file=p, variable="Npp_500m")
    if abs(scale - MOD17_SCALE) > 1e-12:
        raise NepInputError(f"scale_factor {scale} is not MOD17A3HGF's 0.0001 kg C m-2 a-1",
                            file=p, variable="scale_factor")
    if units is not None and unit_conversion(units, "carbon_flux", file=p, variable="units")[0] != 1000.0:
        raise NepInputError(f"unexpected units {units!r} for raw MOD17A3HGF codes (kg C m-2 a-1 with "
                            "scale_factor 0.0001)", file=p, variable="units")
    lo, hi = int(np.ravel(vr)[0]), int(np.ravel(vr)[1])
    r = raw.astype(np.int32)
    valid = (r >= lo) & (r <= hi)
    is_fill = np.isin(r, list(MOD17_FILL_CODES)) | (r == int(fill))
    reason = np.full(raw.shape, reasons.OUT_OF_RANGE, np.int8)
    reason[valid] = reasons.VALID
    reason[is_fill & ~valid] = reasons.NPP_FILL
    vals = np.where(valid, r.astype(np.float32) * np.float32(scale * 1000.0), np.nan).astype(np.float32)
    return Raster(vals, reason, transform, crs, p)


def _named(files):
    return files[0] if len(files) == 1 else ", ".join(str(f) for f in files)


def read_npp(paths_or_glob, grid: xr.Dataset, years, *, check_ranges: bool = True,
             min_valid: int | None = None) -> xr.Dataset:
    """Annual MOD17A3HGF NPP on the analysis grid (:func:`nep_core.grid.make_grid`).

    ``paths_or_glob`` names HDF4 tiles and/or GeoTIFF exports; the year comes from the file name
    (:func:`~nep_core.io.rasters.year_of`) and a year of ``years`` without a file raises. Several
    tiles of one year are mosaicked on their common sinusoidal grid. A year whose region median lies
    outside ``vocab.QUANTITIES["carbon_flux"].plausible`` (e.g. g C declared kg C) raises, or warns
    with ``check_ranges=False`` (config ``checks.plausible_ranges``); with ``min_valid`` (the
    statistics'), no region cell valid in that many years raises here, with the reason counts.

    Returns
    -------
    xarray.Dataset
        ``npp (year, y, x)`` float32 in g C m-2 a-1 (raw * 0.0001 * 1000), and ``npp_reason``
        int8 (0 valid, ``NPP_FILL`` for :data:`MOD17_FILL_CODES`, ``OUT_OF_RANGE`` for other codes
        outside -30000..32700, ``OUTSIDE_REGION`` outside the provinces).

    Notes
    -----
    A year with no valid region cell raises, naming its file(s) and the reason counts. Float values
    outside MOD17's valid range (-3000..3270 g C m-2 a-1) get ``OUT_OF_RANGE``, counted in a
    :class:`~nep_core.errors.NepInputWarning` (after the plausibility check, which sees them).
    A file on the grid's lattice is sliced exactly; anything else is warped (GDAL via rioxarray)
    with *average* of the valid source pixels for the value and *mode* for the reason code, so a
    cell is NaN only when none of its source pixels is valid. Region cells without any source
    pixel raise (missing tile / no overlap).
    """
    years = [int(y) for y in years]
    by_year = files_by_year(expand_paths(paths_or_glob, "NPP files"), years, paths_or_glob, "MOD17A3HGF NPP")
    region = grid["region"].values
    npp = np.empty((len(years), *region.shape), np.float32)
    why = np.empty((len(years), *region.shape), np.int8)
    n_valid = np.zeros(region.shape, np.int16)
    totals = 0
    lo, hi = (c * MOD17_SCALE * 1000.0 for c in MOD17_VALID_RANGE)
    for i, y in enumerate(years):
        named = _named(by_year[y])
        m = mosaic([_decode_npp(f) for f in by_year[y]])
        v = to_grid(m.values, m.transform, m.crs, grid, "average", np.float32(np.nan))
        r = to_grid(m.reason, m.transform, m.crs, grid, "mode", np.int8(UNCOVERED))
        check_coverage(r, region, by_year[y][0], "NPP", y)
        r = np.where(np.isfinite(v), reasons.VALID, np.where(r == reasons.VALID, reasons.NPP_FILL, r))
        r = np.where(region, r, reasons.OUTSIDE_REGION).astype(np.int8)
        v[r != reasons.VALID] = np.nan
        check_plausible(v[region], "carbon_flux", file=named, variable="npp", what=f"NPP {y}",
                        strict=check_ranges, hint="check the declared units (g C vs kg C: a factor of 1000)")
        out = (v < lo) | (v > hi)           # floats only: raw codes were range-checked in decoding
        v[out], r[out] = np.nan, reasons.OUT_OF_RANGE
        n = reasons.counts(r[region])
        if n[reasons.OUT_OF_RANGE]:
            warn_input(f"NPP {y}: {n[reasons.OUT_OF_RANGE]} region cells hold values outside MOD17's valid "
                       f"range {lo:g}..{hi:g} g C m-2 a-1, masked (reason "
                       f"{reasons.MEANINGS[reasons.OUT_OF_RANGE]})", file=named, variable="npp")
        if not n[reasons.VALID]:
            raise NepInputError(f"NPP {y} is all fill or masked in the study region (reason counts: "
                                f"{reasons.describe_counts(n)}); a broken or wrong file?", file=named,
                                variable="npp")
        totals = totals + n
        npp[i], why[i] = v, r
        n_valid += r == reasons.VALID
    if min_valid is not None and not (n_valid[region] >= min_valid).any():
        raise NepInputError(
            f"no region cell has valid NPP in {min_valid} of the {len(years)} years (the statistics' "
            f"min_valid), so every statistic would be masked; reason counts over all years: "
            f"{reasons.describe_counts(totals)}", file=paths_or_glob, variable="npp")
    return xr.Dataset(
        {"npp": (("year", "y", "x"), npp, {
            "units": NEP_UNITS, "long_name": "annual net primary productivity",
            "description": "MOD17A3HGF Npp_500m * 0.0001 kg C m-2 a-1 * 1000; average of valid "
                           "source pixels per grid cell",
            "source_files": ", ".join(sorted({str(f) for y in years for f in by_year[y]}))[:4000]}),
         "npp_reason": (("year", "y", "x"), why, reasons.flag_attrs("why npp is missing"))},
        coords={"year": ("year", np.array(years, np.int64)), **grid_coords(grid)})


def encode_npp(npp_g: np.ndarray, fill_code: np.ndarray | None = None) -> np.ndarray:
    """g C m-2 a-1 -> MOD17A3HGF int16 raw codes (round(value / 0.1)); NaN -> ``fill_code`` (32767)."""
    raw = np.round(np.asarray(npp_g, np.float64) / (MOD17_SCALE * 1000.0))
    bad = ~np.isfinite(raw)
    if np.any((raw[~bad] < MOD17_VALID_RANGE[0]) | (raw[~bad] > MOD17_VALID_RANGE[1])):
        raise NepInputError("NPP outside MOD17A3HGF's valid range -3000..3270 g C m-2 a-1", variable="npp")
    out = np.where(bad, 0, raw).astype(np.int16)
    return np.where(bad, np.int16(32767) if fill_code is None else fill_code, out).astype(np.int16)


def _decode_lc(path) -> Raster:
    """One LC_Type1 file as study classes (0 at the fill) with the fill marked ``UNCOVERED - 1``."""
    p = Path(path)
    raw, attrs, transform, crs = _read_hdf4(p, "LC_Type1") if p.suffix.lower() in _HDF4 else read_geotiff(p)
    fill = LC_FILL if attrs["_nodata"] is None else int(np.ravel(attrs["_nodata"])[0])
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
    return Raster(cls, np.where(raw == fill, np.int8(UNCOVERED - 1), np.int8(0)), transform, crs, p)


def read_landcover(paths, grid: xr.Dataset, years=range(2000, 2023)) -> xr.DataArray:
    """Annual MCD12Q1 LC_Type1 recoded to the study's seven classes, on the analysis grid.

    ``paths``: HDF4 tiles (SDS ``LC_Type1``) and/or GeoTIFFs (uint8 IGBP 1..17, fill 255), year in
    the file name; codes outside 1..17 (other than the fill) raise, as does a year of ``years``
    (default 2000..2022: 2023 is absent, as in the study) without a file.

    Returns
    -------
    xarray.DataArray
        ``landcover (lc_year, y, x)`` int8, codes 1..7 of ``nep_core.vocab.LANDCOVER_CLASSES``,
        0 = no data (fill, or outside the region). IGBP -> class with :data:`IGBP_TO_CLASS` at
        source resolution, then mode (majority) resampling; exact slicing when the file is on the
        grid's lattice. A year without any classified region cell raises; a class absent from the
        region in every year warns (:class:`~nep_core.errors.NepInputWarning`: a region may lack
        wetland, but its zonal rows are then 0 km2).
    """
    years = [int(y) for y in years]
    by_year = files_by_year(expand_paths(paths, "land-cover files"), years, paths, "MCD12Q1 LC_Type1")
    region = grid["region"].values
    out = np.empty((len(years),) + region.shape, np.int8)
    present = np.zeros(len(LANDCOVER_CLASSES), bool)
    for i, y in enumerate(years):
        m = mosaic([_decode_lc(f) for f in by_year[y]])
        cov = to_grid(m.reason, m.transform, m.crs, grid, "mode", np.int8(UNCOVERED))
        check_coverage(cov, region, by_year[y][0], "land cover", y)
        cls = np.where(m.reason == UNCOVERED, 0, m.values).astype(np.int8)
        c = to_grid(cls, m.transform, m.crs, grid, "mode", np.int8(0))
        out[i] = np.where(region, c, 0)
        counts = np.bincount(out[i][region], minlength=len(LANDCOVER_CLASSES) + 1)
        if not counts[1:].any():
            raise NepInputError(f"land cover {y}: no cell of the study region has a class (every pixel fill "
                                "or no data)", file=_named(by_year[y]), variable="LC_Type1")
        present |= counts[1:] > 0
    if not present.all():
        absent = [f"{LANDCOVER_CLASSES[c]} (class {c})" for c in LANDCOVER_CLASSES if not present[c - 1]]
        warn_input(f"land-cover classes {', '.join(absent)} have no region cell in any year read "
                   f"({years[0]}..{years[-1]}): their zonal rows are 0 km2", file=paths, variable="LC_Type1")
    return xr.DataArray(
        out, dims=("lc_year", "y", "x"),
        coords={"lc_year": ("lc_year", np.array(years, np.int64)), **grid_coords(grid)},
        name="landcover",
        attrs={"long_name": "land-cover class (MCD12Q1 LC_Type1 recoded)", "units": "1",
               "flag_values": np.arange(0, 8, dtype=np.int8),
               "flag_meanings": "no_data " + " ".join(v.replace(" ", "_")
                                                      for v in LANDCOVER_CLASSES.values()),
               "igbp_to_class": json.dumps(IGBP_TO_CLASS)})
