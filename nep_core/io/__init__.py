"""Readers (and writers) of the study's real input formats; the synthetic scenario uses the same ones.

Every reader checks CRS, extent, year coverage, scale / fill and units, and fails with
:class:`nep_core.errors.NepInputError` naming the file, the variable and the problem, or masks a pixel
with a reason code (:mod:`nep_core.reasons`): :mod:`.modis` (MOD17A3HGF NPP, MCD12Q1 land cover),
:mod:`.rasters` (GeoTIFF, mosaics, warping, DEM), :mod:`.stations` (CSV or CMA), :mod:`.boundaries`.
"""
from .boundaries import Boundary, read_boundaries  # noqa: F401
from .modis import IGBP_TO_CLASS, MOD17_SCALE, encode_npp, read_landcover, read_npp, recode_igbp  # noqa: F401
from .rasters import expand_paths, read_dem, read_geotiff, to_grid, write_geotiff, year_of  # noqa: F401
from .stations import STATION_UNITS, read_stations, write_stations_csv  # noqa: F401
