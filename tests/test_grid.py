"""The analysis grid: geometry, masks, areas, dry/wet zones."""
import numpy as np
import pytest
import xarray as xr
from pyproj import CRS
from shapely.geometry import box

from nep_core.errors import NepInputError
from nep_core.grid import (CRS_ALBERS, PROVINCES, check_same_grid, drywet_zones, grid_transform,
                           make_grid, region_area_km2, xy_to_lonlat)


@pytest.fixture(scope="module")
def g25():
    return make_grid(25000)


def test_grid_layout(g25):
    assert g25["province"].dims == ("y", "x")
    assert g25["province"].dtype == np.int8
    assert g25["region"].dtype == bool
    assert np.all(np.diff(g25["y"].values) < 0), "y must descend"
    assert np.allclose(np.diff(g25["x"].values), 25000)
    assert set(np.unique(g25["province"].values)) == {0, 1, 2, 3, 4, 5}
    assert CRS.from_user_input(g25.rio.crs).equals(CRS.from_user_input(CRS_ALBERS))
    assert g25["cell_area"].attrs["units"] == "km2"
    assert float(g25["cell_area"].max()) == float(g25["cell_area"].min()) == 625.0
    assert np.array_equal(g25["region"].values, g25["province"].values > 0)


def test_cell_centres_and_lonlat(g25):
    tf = grid_transform(g25)
    assert tf @ (0.5, 0.5) == pytest.approx((float(g25.x[0]), float(g25.y[0])))
    lon, lat = xy_to_lonlat(g25.x.values[10], g25.y.values[20])
    assert float(g25.lon[20, 10]) == pytest.approx(lon, abs=1e-4)
    assert float(g25.lat[20, 10]) == pytest.approx(lat, abs=1e-4)
    r = g25.region.values
    assert 73 < g25.lon.values[r].min() < g25.lon.values[r].max() < 112
    assert 31 < g25.lat.values[r].min() < g25.lat.values[r].max() < 50


def test_province_areas_match_outlines():
    """Rasterised areas at 5 km within 1 % of the polygon areas (measured in the same Albers CRS)."""
    g = make_grid(5000)
    a = region_area_km2(g)
    polygon = {"Shaanxi": 205640, "Gansu": 425954, "Qinghai": 696924, "Ningxia": 51922, "Xinjiang": 1630628}
    for name, km2 in polygon.items():
        assert a[name] == pytest.approx(km2, rel=0.01), name
    assert a["NWC"] == pytest.approx(3.011e6, rel=0.005)


def test_grids_nest():
    a25 = region_area_km2(make_grid(25000))["NWC"]
    a10 = region_area_km2(make_grid(10000))["NWC"]
    assert a25 == pytest.approx(a10, rel=0.01)
    g10 = make_grid(10000)
    assert float(g10.x[0] - 5000) % 10000 == 0


def test_custom_boundaries_and_errors():
    g = make_grid(10000, boundaries=[(4, "Ningxia", box(105, 36, 107, 38))])
    assert set(np.unique(g.province.values)) == {0, 4}
    with pytest.raises(NepInputError, match="not in 1..5"):
        make_grid(10000, boundaries=[(9, "Mars", box(105, 36, 107, 38))])
    with pytest.raises(NepInputError, match="positive"):
        make_grid(-5)


def test_check_same_grid(g25):
    check_same_grid(g25, g25)
    other = make_grid(50000)
    with pytest.raises(NepInputError, match="different grid"):
        check_same_grid(g25, other, file="x.tif", name="npp")


def test_drywet_zones():
    p = np.array([0.0, 199.9, 200.0, 399.0, 400.0, 799.0, 800.0, 2000.0, np.nan])
    assert drywet_zones(p).tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 0]
    da = xr.DataArray(p, dims="i", attrs={"units": "mm a-1"})
    z = drywet_zones(da)
    assert z.dtype == np.int8 and z.attrs["flag_meanings"].startswith("no_data")
    assert drywet_zones(da.chunk(4)).values.tolist() == z.values.tolist()
    with pytest.raises(NepInputError, match="mm a-1"):
        drywet_zones(xr.DataArray(p, dims="i", attrs={"units": "m"}))


def test_provinces_table():
    assert [(p.code, p.name, p.adcode) for p in PROVINCES] == [
        (1, "Shaanxi", 610000), (2, "Gansu", 620000), (3, "Qinghai", 630000), (4, "Ningxia", 640000),
        (5, "Xinjiang", 650000)]
