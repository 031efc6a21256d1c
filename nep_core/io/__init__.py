"""Readers (and writers) of the study's real input formats; the synthetic scenario uses the same ones.

Every reader checks what it is given (CRS, extent, year coverage, scale / fill, units) and fails
with :class:`nep_core.errors.NepInputError` naming the file, the variable and the problem, or masks
a pixel with a reason code (:mod:`nep_core.reasons`). Nothing is silently dropped.

By concern:

- :mod:`nep_core.io.modis`: MOD17A3HGF NPP (:func:`read_npp`, :func:`encode_npp`) and MCD12Q1
  LC_Type1 land cover (:func:`read_landcover`, :data:`IGBP_TO_CLASS`), HDF4-EOS tiles or GeoTIFF.
- :mod:`nep_core.io.rasters`: GeoTIFF reading, tile mosaics, exact slicing or warping onto the
  analysis grid, the DEM (:func:`read_dem`), :func:`write_geotiff`.
- :mod:`nep_core.io.stations`: station tables, documented CSV or CMA daily text
  (:func:`read_stations`, :func:`write_stations_csv`).
- :mod:`nep_core.io.boundaries`: province outlines, GeoJSON or shapefile (:func:`read_boundaries`).

Units are checked with :func:`nep_core.vocab.check_units` / :func:`nep_core.vocab.unit_conversion`.
"""
from .boundaries import Boundary, read_boundaries
from .modis import (IGBP_NAMES, IGBP_TO_CLASS, LC_FILL, MOD17_FILL_CODES, MOD17_SCALE, MOD17_VALID_RANGE,
                    encode_npp, read_landcover, read_npp, recode_igbp)
from .rasters import expand_paths, read_dem, read_geotiff, to_grid, write_geotiff, year_of
from .stations import CMA_COLUMNS, CMA_MISSING, STATION_UNITS, STATION_VARS, read_stations, write_stations_csv

__all__ = ["Boundary", "read_boundaries", "IGBP_NAMES", "IGBP_TO_CLASS", "LC_FILL", "MOD17_FILL_CODES",
           "MOD17_SCALE", "MOD17_VALID_RANGE", "encode_npp", "read_landcover", "read_npp", "recode_igbp",
           "expand_paths", "read_dem", "read_geotiff", "to_grid", "write_geotiff", "year_of",
           "CMA_COLUMNS", "CMA_MISSING", "STATION_UNITS", "STATION_VARS", "read_stations",
           "write_stations_csv"]
