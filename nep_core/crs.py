"""The analysis CRS (China Albers equal-area) and coordinate transforms (a leaf module for io and grid)."""
from __future__ import annotations

import functools

import numpy as np

#: China Albers equal-area conic (standard parallels 25 N / 47 N, central meridian 105 E, WGS84).
CRS_ALBERS = ("+proj=aea +lat_0=0 +lon_0=105 +lat_1=25 +lat_2=47 +x_0=0 +y_0=0 "
              "+ellps=WGS84 +units=m +no_defs")


@functools.cache
def transformer(src: str, dst: str):
    """A cached ``pyproj.Transformer`` from ``src`` to ``dst`` with ``always_xy=True``."""
    from pyproj import Transformer

    return Transformer.from_crs(src, dst, always_xy=True)


def lonlat_to_xy(lon, lat):
    """WGS84 lon/lat (degrees) -> China Albers x/y (m). Arrays in, arrays out."""
    return transformer("EPSG:4326", CRS_ALBERS).transform(np.asarray(lon, float), np.asarray(lat, float))


def xy_to_lonlat(x, y):
    """China Albers x/y (m) -> WGS84 lon/lat (degrees)."""
    return transformer(CRS_ALBERS, "EPSG:4326").transform(np.asarray(x, float), np.asarray(y, float))


def project_geometry(geom, src: str = "EPSG:4326", dst: str = CRS_ALBERS):
    """Reproject a shapely geometry (vectorised over its coordinates with ``shapely.transform``)."""
    import shapely

    tr = transformer(src, dst)
    return shapely.transform(geom, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))


def grid_transform(grid):
    """The affine transform (upper-left corner) of a grid Dataset made by
    :func:`nep_core.grid.make_grid` (cell-centre ``x``/``y``, attribute ``resolution_m``)."""
    from affine import Affine

    res = float(grid.attrs["resolution_m"])
    x0 = float(grid["x"].values[0]) - res / 2
    y0 = float(grid["y"].values[0]) + res / 2
    return Affine(res, 0.0, x0, 0.0, -res, y0)
