"""Readers on small files written here in each real format, and every kind of bad input."""
import json

import numpy as np
import pandas as pd
import pytest
import rasterio
from rasterio.transform import from_origin
from shapely.geometry import box, mapping

from nep_core import io, reasons
from nep_core.errors import NepInputError, NepInputWarning
from nep_core.grid import make_grid
from nep_core.vocab import LANDCOVER_CLASSES

# MODIS sinusoidal tile system, written out independently of nep_core.io's constants
TILE = 1111950.5196666666
X0, Y0 = -20015109.354, 10007554.677
N_PIX = 24   # a coarse "tile" (46 km pixels) keeps the files tiny; the geometry is the real one


def struct_metadata(h, v, n=N_PIX):
    ulx, uly = X0 + h * TILE, Y0 - v * TILE
    return (
        "GROUP=SwathStructure\nEND_GROUP=SwathStructure\nGROUP=GridStructure\n\tGROUP=GRID_1\n"
        '\t\tGridName="MOD_Grid_MOD17A3H"\n'
        f"\t\tXDim={n}\n\t\tYDim={n}\n"
        f"\t\tUpperLeftPointMtrs=({ulx:.6f},{uly:.6f})\n"
        f"\t\tLowerRightMtrs=({ulx + TILE:.6f},{uly - TILE:.6f})\n"
        "\t\tProjection=GCTP_SNSOID\n\t\tProjParams=(6371007.181000,0,0,0,0,0,0,0,0,0,0,0,0)\n"
        "\t\tSphereCode=-1\n\t\tGridOrigin=HDFE_GD_UL\n\tEND_GROUP=GRID_1\nEND_GROUP=GridStructure\n")


def write_hdf4(path, sds_name, data, h, v, meta=None, fill=32767, scale=0.0001, vrange=(-30000, 32700)):
    from pyhdf.SD import SD, SDC

    sd = SD(str(path), SDC.WRITE | SDC.CREATE)
    typ = SDC.INT16 if data.dtype == np.int16 else SDC.UINT8
    s = sd.create(sds_name, typ, data.shape)
    s.setfillvalue(fill)
    s[:] = data
    if sds_name == "Npp_500m":
        s.scale_factor = scale
        s.units = "kg C/m^2"
    s.valid_range = list(vrange)
    s.endaccess()
    sd.attr("StructMetadata.0").set(SDC.CHAR, meta or struct_metadata(h, v, data.shape[0]))
    sd.end()
    return path


@pytest.fixture(scope="module")
def qgrid():
    """A 25 km grid of a box in Qinghai (lon 95-100, lat 34-36) spanning MODIS tiles h25v05 / h26v05."""
    return make_grid(25000, boundaries=[(3, "Qinghai", box(95, 34, 100, 36))])


@pytest.fixture(scope="module")
def wgrid():
    """A box inside tile h25v05 only."""
    return make_grid(25000, boundaries=[(3, "Qinghai", box(91, 34, 95, 37))])


# ------------------------------------------------------------------------------------- MOD17 HDF4
def test_hdf4_tiles_mosaic_scale_and_reasons(tmp_path, qgrid):
    a = np.full((N_PIX, N_PIX), 3000, np.int16)    # 300 g C m-2 a-1
    b = np.full((N_PIX, N_PIX), 4000, np.int16)    # 400
    b[12:, :] = 32765                             # barren code in h26 south of 35 N
    for y in (2000, 2001):
        write_hdf4(tmp_path / f"MOD17A3HGF.A{y}001.h25v05.061.2021.hdf", "Npp_500m", a, 25, 5)
        write_hdf4(tmp_path / f"MOD17A3HGF.A{y}001.h26v05.061.2021.hdf", "Npp_500m", b, 26, 5)
    ds = io.read_npp(str(tmp_path / "*.hdf"), qgrid, [2000, 2001])
    assert ds.npp.dtype == np.float32 and ds.npp.attrs["units"] == "g C m-2 a-1"
    assert ds.npp.dims == ("year", "y", "x")
    reg = qgrid.region.values
    lon = qgrid.lon.values
    lat = qgrid.lat.values
    west = reg & (lon < 95.8)                     # h25 (the tile edge is at 96.5-97.7 E here)
    east = reg & (lon > 99.0) & (lat < 34.8)      # h26, barren rows
    assert west.any() and east.any()
    np.testing.assert_allclose(ds.npp.values[0][west], 300.0, rtol=1e-6)
    assert np.all(ds.npp_reason.values[0][east] == reasons.NPP_FILL)
    assert np.all(np.isnan(ds.npp.values[0][east]))
    assert np.all(ds.npp_reason.values[0][~reg] == reasons.OUTSIDE_REGION)
    # every NaN has a reason, every reason-0 cell a value
    assert np.array_equal(np.isnan(ds.npp.values), ds.npp_reason.values != reasons.VALID)
    # somewhere in the middle the h26 value 400 shows up
    assert np.any(np.isclose(ds.npp.values[0][reg], 400.0))


def test_hdf4_out_of_range_masked(tmp_path, wgrid):
    a = np.full((N_PIX, N_PIX), 32750, np.int16)   # neither valid (<= 32700) nor a fill code
    write_hdf4(tmp_path / "MOD17A3HGF.A2005001.h25v05.061.hdf", "Npp_500m", a, 25, 5)
    with pytest.raises(NepInputError, match=r"A2005001.*NPP 2005 is all fill or masked.*value_out_of_valid"):
        io.read_npp(tmp_path / "MOD17A3HGF.A2005001.h25v05.061.hdf", wgrid, [2005])
    a[: N_PIX // 2] = 3000                          # the northern half valid
    write_hdf4(tmp_path / "MOD17A3HGF.A2006001.h25v05.061.hdf", "Npp_500m", a, 25, 5)
    with pytest.warns(NepInputWarning, match=r"NPP 2006: \d+ region cells hold values outside"):
        ds = io.read_npp(tmp_path / "MOD17A3HGF.A2006001.h25v05.061.hdf", wgrid, [2006])
    r = ds.npp_reason.values[0][wgrid.region.values]
    assert set(np.unique(r)) == {reasons.VALID, reasons.OUT_OF_RANGE}


def test_hdf4_structmetadata_must_match_tile_name(tmp_path, wgrid):
    a = np.full((N_PIX, N_PIX), 3000, np.int16)
    write_hdf4(tmp_path / "MOD17A3HGF.A2000001.h25v05.hdf", "Npp_500m", a, 25, 5, meta=struct_metadata(24, 5))
    with pytest.raises(NepInputError, match="does not match tile h25v05"):
        io.read_npp(tmp_path / "MOD17A3HGF.A2000001.h25v05.hdf", wgrid, [2000])


def test_hdf4_wrong_scale_and_missing_sds(tmp_path, wgrid):
    a = np.full((N_PIX, N_PIX), 3000, np.int16)
    write_hdf4(tmp_path / "MOD17A3HGF.A2000001.h25v05.hdf", "Npp_500m", a, 25, 5, scale=0.001)
    with pytest.raises(NepInputError, match="scale_factor"):
        io.read_npp(tmp_path / "MOD17A3HGF.A2000001.h25v05.hdf", wgrid, [2000])
    write_hdf4(tmp_path / "MOD17A3HGF.A2001001.h25v05.hdf", "Gpp_500m", a, 25, 5)
    with pytest.raises(NepInputError, match="no SDS 'Npp_500m'"):
        io.read_npp(tmp_path / "MOD17A3HGF.A2001001.h25v05.hdf", wgrid, [2001])


def test_missing_year_names_year_and_pattern(tmp_path, wgrid):
    a = np.full((N_PIX, N_PIX), 3000, np.int16)
    write_hdf4(tmp_path / "MOD17A3HGF.A2000001.h25v05.hdf", "Npp_500m", a, 25, 5)
    pattern = str(tmp_path / "MOD17A3HGF.*.hdf")
    with pytest.raises(NepInputError, match=r"year\(s\) \[2001\]") as e:
        io.read_npp(pattern, wgrid, [2000, 2001])
    assert e.value.file == pattern
    with pytest.raises(NepInputError, match="no NPP files match"):
        io.read_npp(str(tmp_path / "nothing*.hdf"), wgrid, [2000])


def test_mosaic_places_tiles_leaves_gaps_uncovered_and_rejects_bad_sets():
    """Three tiles in an L (the fourth corner missing): each tile lands at its whole-pixel offset, the
    gap is NaN / UNCOVERED; a duplicate, a misaligned tile or another pixel size raises."""
    from affine import Affine

    from nep_core.io.rasters import UNCOVERED, Raster, mosaic

    res, n = TILE / N_PIX, N_PIX
    rng = np.random.default_rng(0)
    tiles = {(h, v): rng.random((n, n)).astype(np.float32) for h, v in ((25, 5), (26, 5), (25, 6))}

    def raster(h, v, vals=None, dx=0.0, r=res):
        return Raster(tiles[h, v] if vals is None else vals, np.full((n, n), reasons.VALID, np.int8),
                      Affine(r, 0, X0 + h * TILE + dx, 0, -r, Y0 - v * TILE), "+proj=sinu +R=6371007.181",
                      f"h{h}v{v}.hdf")

    m = mosaic([raster(26, 5), raster(25, 6), raster(25, 5)])
    assert m.values.shape == (2 * n, 2 * n) and m.values.dtype == np.float32
    np.testing.assert_allclose(tuple(m.transform)[:6], (res, 0, X0 + 25 * TILE, 0, -res, Y0 - 5 * TILE))
    np.testing.assert_array_equal(m.values[:n, :n], tiles[25, 5])
    np.testing.assert_array_equal(m.values[:n, n:], tiles[26, 5])
    np.testing.assert_array_equal(m.values[n:, :n], tiles[25, 6])
    assert np.isnan(m.values[n:, n:]).all() and (m.reason[n:, n:] == UNCOVERED).all()
    assert (m.reason[:n] == reasons.VALID).all() and (m.reason[n:, :n] == reasons.VALID).all()
    with pytest.raises(NepInputError, match="overlap"):
        mosaic([raster(25, 5), raster(26, 5), raster(25, 5)])
    with pytest.raises(NepInputError, match="not aligned"):
        mosaic([raster(25, 5), raster(26, 5, dx=res / 3)])
    with pytest.raises(NepInputError, match="different pixel sizes"):
        mosaic([raster(25, 5), raster(26, 5, r=res / 2)])


def test_missing_tile_and_no_overlap(tmp_path, qgrid):
    a = np.full((N_PIX, N_PIX), 3000, np.int16)
    write_hdf4(tmp_path / "MOD17A3HGF.A2000001.h25v05.hdf", "Npp_500m", a, 25, 5)
    with pytest.raises(NepInputError, match="not covered .*missing tile"):
        io.read_npp(tmp_path / "MOD17A3HGF.A2000001.h25v05.hdf", qgrid, [2000])
    write_hdf4(tmp_path / "MOD17A3HGF.A2001001.h10v05.hdf", "Npp_500m", a, 10, 5)
    with pytest.raises(NepInputError, match="no overlap"):
        io.read_npp(tmp_path / "MOD17A3HGF.A2001001.h10v05.hdf", qgrid, [2001])


def test_corrupt_and_truncated_files(tmp_path, wgrid):
    bad = tmp_path / "MOD17A3HGF.A2000001.h25v05.hdf"
    bad.write_bytes(b"\x0e\x03\x13\x01" + bytes(200))
    with pytest.raises(NepInputError, match="cannot open as HDF4"):
        io.read_npp(bad, wgrid, [2000])
    # a GeoTIFF cut in half
    tif = tmp_path / "MOD17A3HGF.A2001001.tif"
    arr = np.random.default_rng(0).integers(0, 20000, (400, 400)).astype(np.int16)
    with rasterio.open(tif, "w", driver="GTiff", width=400, height=400, count=1, dtype="int16",
                       crs="EPSG:4326", transform=from_origin(90, 38, 0.02, 0.02)) as f:
        f.write(arr, 1)
    data = tif.read_bytes()
    tif.write_bytes(data[: len(data) // 2])
    with pytest.raises(NepInputError, match="corrupt or truncated"):
        io.read_npp(tif, wgrid, [2001])


# ------------------------------------------------------------------------------------- GeoTIFFs
def _tif(path, arr, crs="EPSG:4326", transform=from_origin(88, 40, 0.05, 0.05), nodata=None, tags=None):
    with rasterio.open(path, "w", driver="GTiff", width=arr.shape[1], height=arr.shape[0], count=1,
                       dtype=arr.dtype.name, crs=crs, transform=transform, nodata=nodata) as f:
        f.write(arr, 1)
        if tags:
            f.update_tags(**tags)
    return path


def test_geotiff_npp_lonlat_average(tmp_path, wgrid):
    arr = np.full((200, 200), 2500, np.int16)
    arr[:, :20] = 32766   # water strip far west (outside the box)
    _tif(tmp_path / "npp_2003.tif", arr, nodata=32767)
    ds = io.read_npp(tmp_path / "npp_2003.tif", wgrid, [2003])
    np.testing.assert_allclose(ds.npp.values[0][wgrid.region.values], 250.0, rtol=1e-6)


def test_geotiff_without_crs(tmp_path, wgrid):
    p = tmp_path / "npp_2003.tif"
    with rasterio.open(p, "w", driver="GTiff", width=10, height=10, count=1, dtype="int16") as f:
        f.write(np.zeros((10, 10), np.int16), 1)
    with pytest.raises(NepInputError, match="no CRS"):
        io.read_npp(p, wgrid, [2003])


def test_float_npp_needs_declared_units(tmp_path, wgrid):
    arr = np.full((200, 200), 0.25, np.float32)
    _tif(tmp_path / "npp_2004.tif", arr)
    with pytest.raises(NepInputError, match="undeclared unit"):
        io.read_npp(tmp_path / "npp_2004.tif", wgrid, [2004])
    _tif(tmp_path / "npp_2003.tif", arr, tags={"units": "t C ha-1"})
    with pytest.raises(NepInputError, match=r"npp_2003.tif.*'t C ha-1' not accepted.*'kg C m-2 a-1'"):
        io.read_npp(tmp_path / "npp_2003.tif", wgrid, [2003])
    _tif(tmp_path / "npp_2005.tif", arr, tags={"units": "kg C m-2 a-1"})
    ds = io.read_npp(tmp_path / "npp_2005.tif", wgrid, [2005])
    np.testing.assert_allclose(ds.npp.values[0][wgrid.region.values], 250.0, rtol=1e-5)


def test_year_from_name():
    assert io.year_of("MOD17A3HGF.A2013001.h25v05.061.2021345.hdf") == 2013
    assert io.year_of("npp_2019_nwc.tif") == 2019
    with pytest.raises(NepInputError, match="cannot tell the year"):
        io.year_of("npp_2019_2020.tif")


# ------------------------------------------------------------------------------------- land cover
def test_landcover_geotiff_and_hdf4(tmp_path, wgrid):
    arr = np.full((200, 200), 10, np.uint8)       # grassland
    arr[:, 100:] = 16                             # barren east of 93 E
    arr[:5, :] = 255
    _tif(tmp_path / "MCD12Q1.A2000001.tif", arr, nodata=255)
    _tif(tmp_path / "MCD12Q1.A2001001.tif", np.where(arr == 16, 15, arr).astype(np.uint8), nodata=255)
    lc = io.read_landcover(str(tmp_path / "MCD12Q1.*.tif"), wgrid, [2000, 2001])
    assert lc.dims == ("lc_year", "y", "x") and lc.dtype == np.int8
    r = wgrid.region.values
    lon = wgrid.lon.values
    assert np.all(lc.values[0][r & (lon < 92.5)] == 2)
    assert np.all(lc.values[0][r & (lon > 93.5)] == 7)
    assert np.all(lc.values[1][r & (lon > 93.5)] == 7), "snow/ice 15 -> barren"
    assert np.all(lc.values[0][~r] == 0)
    # HDF4 tile
    t = np.full((N_PIX, N_PIX), 12, np.uint8)
    write_hdf4(tmp_path / "MCD12Q1.A2002001.h25v05.061.hdf", "LC_Type1", t, 25, 5, fill=255, vrange=(1, 17))
    lc2 = io.read_landcover(tmp_path / "MCD12Q1.A2002001.h25v05.061.hdf", wgrid, [2002])
    assert np.all(lc2.values[0][r] == 3)


def test_landcover_invalid_codes(tmp_path, wgrid):
    arr = np.full((200, 200), 10, np.uint8)
    arr[50, 50] = 40
    _tif(tmp_path / "MCD12Q1.A2000001.tif", arr, nodata=255)
    with pytest.raises(NepInputError, match="outside IGBP 1..17"):
        io.read_landcover(tmp_path / "MCD12Q1.A2000001.tif", wgrid, [2000])


def test_igbp_table_complete():
    assert set(io.IGBP_TO_CLASS) == set(range(1, 18))
    assert set(io.IGBP_TO_CLASS.values()) == set(LANDCOVER_CLASSES)


# ------------------------------------------------------------------------------------- DEM
def test_dem(tmp_path, wgrid):
    arr = np.full((200, 200), 4000, np.int16)
    _tif(tmp_path / "dem.tif", arr, nodata=-32768, tags={"units": "m"})
    with pytest.raises(NepInputError, match="dem.tif.*spread 0 m over the region is implausible"):
        io.read_dem(tmp_path / "dem.tif", wgrid)          # a constant DEM
    with pytest.warns(NepInputWarning, match="spread 0 m"):
        d = io.read_dem(tmp_path / "dem.tif", wgrid, check_ranges=False)
    assert d.attrs["units"] == "m"
    np.testing.assert_allclose(d.values[wgrid.region.values], 4000.0)
    _tif(tmp_path / "dem_ft.tif", arr, tags={"units": "ft"})
    with pytest.raises(NepInputError, match="'ft' not accepted for elevation"):
        io.read_dem(tmp_path / "dem_ft.tif", wgrid)
    small = _tif(tmp_path / "dem_small.tif", arr[:20, :20])   # covers only 88-89 E
    with pytest.raises(NepInputError, match="no overlap"):
        io.read_dem(small, wgrid)


# ------------------------------------------------------------------------------------- boundaries
def test_boundaries_geojson_and_shapefile(tmp_path):
    import shapefile

    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"adcode": 640000, "name": "Ningxia"},
         "geometry": mapping(box(105, 36, 107, 38))}]}
    p = tmp_path / "b.geojson"
    p.write_text(json.dumps(fc))
    (b,) = io.read_boundaries(p)
    assert (b.code, b.name, b.adcode) == (4, "Ningxia", 640000)
    # shapefile in Albers with a .prj
    from nep_core.grid import CRS_ALBERS, project_geometry
    from pyproj import CRS

    g = project_geometry(box(105, 36, 107, 38))
    with shapefile.Writer(str(tmp_path / "b"), shapeType=shapefile.POLYGON) as w:
        w.field("code", "N")
        w.shape(g.__geo_interface__)
        w.record(4)
    (tmp_path / "b.prj").write_text(CRS.from_user_input(CRS_ALBERS).to_wkt())
    (s,) = io.read_boundaries(tmp_path / "b.shp")
    assert s.code == 4 and s.geometry.symmetric_difference(b.geometry).area < 1e-6
    (tmp_path / "b.prj").unlink()
    with pytest.raises(NepInputError, match="no .prj"):
        io.read_boundaries(tmp_path / "b.shp")


def test_boundaries_bad(tmp_path):
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": 4}, "geometry": mapping(box(5e5, 4e6, 6e5, 4.1e6))}]}
    p = tmp_path / "projected.geojson"
    p.write_text(json.dumps(fc))
    with pytest.raises(NepInputError, match="not WGS84 degrees"):
        io.read_boundaries(p)
    fc["features"][0]["properties"] = {"name": "Atlantis"}
    fc["features"][0]["geometry"] = mapping(box(105, 36, 107, 38))
    p.write_text(json.dumps(fc))
    with pytest.raises(NepInputError, match="not one of the five provinces"):
        io.read_boundaries(p)
    p.write_text("{not json")
    with pytest.raises(NepInputError, match="not valid GeoJSON"):
        io.read_boundaries(p)


# ------------------------------------------------------------------------------------- stations
def _csv(path, rows, header="station,lon,lat,elevation[m],date,tmean[degC],prcp[mm],rad[MJ m-2]"):
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def _monthly_rows(st="52001", lon=100.0, lat=36.0, elev=3000, t=5.0, p=30.0, r=500.0, months=12):
    return [f"{st},{lon},{lat},{elev},2000-{m:02d},{t},{p},{r}" for m in range(1, months + 1)]


def test_csv_monthly(tmp_path):
    rows = _monthly_rows() + _monthly_rows("52002", 101.0, 37.0, 2500, 6.0, "", 480.0)
    ds = io.read_stations(_csv(tmp_path / "s.csv", rows))
    assert ds.tmean.dims == ("station", "time")
    assert ds.sizes == {"station": 2, "time": 12}
    assert ds.tmean.attrs["units"] == "degC" and ds.prcp.attrs["units"] == "mm"
    assert ds.rad.attrs["units"] == "MJ m-2" and ds.elevation.attrs["units"] == "m"
    assert np.isnan(ds.prcp.sel(station="52002")).all()
    assert float(ds.tmean.sel(station="52001")[0]) == 5.0
    assert {"x", "y", "lon", "lat", "elevation"} <= set(ds.coords)


def test_csv_declared_kelvin_and_metres_converted(tmp_path):
    rows = [f"52001,100,36,3000,2000-{m:02d},278.15,0.03,500" for m in range(1, 13)]
    ds = io.read_stations(_csv(tmp_path / "k.csv", rows,
                               "station,lon,lat,elevation[m],date,tmean[K],prcp[m],rad[MJ m-2]"))
    np.testing.assert_allclose(ds.tmean.values, 5.0)
    np.testing.assert_allclose(ds.prcp.values, 30.0)


def test_csv_unit_errors(tmp_path):
    k_rows = [f"52001,100,36,3000,2000-{m:02d},278.15,30,500" for m in range(1, 13)]
    with pytest.raises(NepInputError, match="implausible.*K vs degC"):
        io.read_stations(_csv(tmp_path / "a.csv", k_rows))
    with pytest.raises(NepInputError, match="no unit declared for prcp"):
        io.read_stations(_csv(tmp_path / "b.csv", _monthly_rows(),
                              "station,lon,lat,elevation[m],date,tmean[degC],prcp,rad[MJ m-2]"))
    with pytest.raises(NepInputError, match="implausible"):   # mm values declared as metres
        io.read_stations(_csv(tmp_path / "c.csv", _monthly_rows(),
                              "station,lon,lat,elevation[m],date,tmean[degC],prcp[m],rad[MJ m-2]"))
    with pytest.raises(NepInputError, match="not accepted"):
        io.read_stations(_csv(tmp_path / "d.csv", _monthly_rows(),
                              "station,lon,lat,elevation[m],date,tmean[degF],prcp[mm],rad[MJ m-2]"))


def test_csv_duplicates_and_bad_values(tmp_path):
    rows = _monthly_rows() + _monthly_rows("52001", 101.0, 36.0, 3000)
    with pytest.raises(NepInputError, match="duplicate station ids"):
        io.read_stations(_csv(tmp_path / "a.csv", rows))
    rows = _monthly_rows() + _monthly_rows(months=1)
    with pytest.raises(NepInputError, match="duplicate \\(station, date\\)"):
        io.read_stations(_csv(tmp_path / "b.csv", rows))
    rows = _monthly_rows()
    rows[3] = rows[3].replace(",30.0,", ",abc,")
    with pytest.raises(NepInputError, match="non-numeric value 'abc'"):
        io.read_stations(_csv(tmp_path / "c.csv", rows))
    with pytest.raises(NepInputError, match="missing columns"):
        io.read_stations(_csv(tmp_path / "d.csv", ["52001,100,36,2000-01,5"], "station,lon,lat,date,tmean[degC]"))


def test_stations_outside_region_flagged_far_ones_dropped(tmp_path, wgrid):
    """Just outside (96.5 E, ~140 km from the box): kept and flagged; 80 E 45 N (> 1000 km): dropped."""
    rows = (_monthly_rows("52001", 93.0, 35.5) + _monthly_rows("99001", 96.5, 35.5)
            + _monthly_rows("99002", 80.0, 45.0))
    with pytest.warns(NepInputWarning, match=r"s.csv.*1 stations farther than 200 km .*: 99002"):
        ds = io.read_stations(_csv(tmp_path / "s.csv", rows), grid=wgrid)
    assert ds.station.values.tolist() == ["52001", "99001"]
    assert ds.in_region.values.tolist() == [True, False]
    assert ds.station_reason.values.tolist() == [reasons.VALID, reasons.OUTSIDE_REGION]
    assert [d["station"] for d in json.loads(ds.attrs["stations_dropped"])] == ["99002"]
    kept = io.read_stations(tmp_path / "s.csv", grid=wgrid, max_distance_km=5000)
    assert kept.sizes["station"] == 3
    with pytest.raises(NepInputError, match="no station lies inside"):
        io.read_stations(_csv(tmp_path / "t.csv", _monthly_rows("99001", 80.0, 45.0)), grid=wgrid)


def test_csv_daily_aggregation(tmp_path):
    days = pd.date_range("2001-01-01", "2001-02-28", freq="D")
    rows = [f"52001,100,36,3000,{d:%Y-%m-%d},{d.day},2,10" for d in days]
    rows[40] = rows[40].rsplit(",", 3)[0] + ",,2,10"   # one February temperature missing
    ds = io.read_stations(_csv(tmp_path / "d.csv", rows))
    assert ds.sizes["time"] == 2
    assert float(ds.tmean[0, 0]) == pytest.approx(16.0)     # mean of 1..31
    assert float(ds.prcp[0, 0]) == pytest.approx(62.0) and float(ds.rad[0, 0]) == pytest.approx(310.0)
    assert np.isnan(float(ds.tmean[0, 1])), "incomplete month must be missing"
    assert float(ds.prcp[0, 1]) == pytest.approx(56.0)


def test_cma_layout(tmp_path):
    lines = []
    for d in pd.date_range("2002-07-01", "2002-07-31", freq="D"):
        t = 215 if d.day != 3 else 32766
        p = 32700 if d.day == 5 else (32012 if d.day == 6 else 10)
        lines.append(f"52866 3637 10145 22612 {d.year} {d.month} {d.day} {t} {p} 2000")
        lines.append(f"57036 3418 10854 100397 {d.year} {d.month} {d.day} 280 0 1800")
    path = tmp_path / "SURF_CLI_CHN_MUL_DAY-2002.txt"
    path.write_text("\n".join(lines) + "\n")
    ds = io.read_stations(path, layout="cma")
    xn = ds.sel(station="52866")
    assert float(xn.lat) == pytest.approx(36 + 37 / 60)
    assert float(xn.lon) == pytest.approx(101 + 45 / 60)
    assert float(xn.elevation) == pytest.approx(2261.2)
    assert np.isnan(float(xn.tmean[0])), "a missing day (32766) leaves the month missing"
    # 29 days of 1.0 mm, trace day -> 0, 32012 -> 1.2 mm
    assert float(xn.prcp[0]) == pytest.approx(29 * 1.0 + 0 + 1.2)
    assert float(xn.rad[0]) == pytest.approx(31 * 20.0)
    xa = ds.sel(station="57036")
    assert float(xa.elevation) == pytest.approx(39.7), "estimated elevation flag 100000 removed"
    assert float(xa.tmean[0]) == pytest.approx(28.0)


def test_cma_wrong_columns(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("52866 3637 10145 22612 2002 7 1 215 10\n")
    with pytest.raises(NepInputError, match="expected 10 columns"):
        io.read_stations(path, layout="cma")
    with pytest.raises(NepInputError, match="unknown station layout"):
        io.read_stations(path, layout="excel")
