"""nep_core.vocab: one accepted-units table and one check at every boundary; names defined once."""
from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from nep_core import carbon, classify, figures, grid, io, stats, vocab
from nep_core.errors import NepInputError
from nep_core.vocab import QUANTITIES, check_units, unit_conversion


@pytest.mark.parametrize("quantity, units", [
    ("temperature", "degC"), ("temperature", "°C"), ("temperature", "degree_Celsius"),
    ("temperature", "celsius"), ("temperature", "C"),
    ("precipitation_monthly", "mm"), ("precipitation_monthly", "mm month-1"),
    ("precipitation_monthly", "mm per month"), ("precipitation_annual", "mm/a"),
    ("precipitation_annual", "mm year-1"), ("radiation_daily", "MJ m-2 day-1"),
    ("elevation", "metres"), ("area", "km^2"), ("carbon_flux", "g C m-2 a-1"),
    ("carbon_flux", "gC m-2 a-1"),           # white space is not significant
    ("carbon_flux_monthly", "g C m-2 month-1"),
])
def test_accepted_spellings(quantity, units):
    da = xr.DataArray([1.0], dims="i", name="v", attrs={"units": units})
    assert check_units(da, quantity) == units
    assert check_units({"units": units}, quantity) == units
    assert unit_conversion(units, quantity) == (1.0, 0.0)


@pytest.mark.parametrize("quantity, units, expected", [
    ("temperature", "K", "degC"), ("temperature", "degF", "degC"),
    ("precipitation_monthly", "m", "mm month-1"),      # convertible, but not by check_units
    ("precipitation_monthly", "mm d-1", "mm month-1"),  # a daily rate is not a monthly total
    ("radiation_annual", "W m-2", "MJ m-2 a-1"), ("elevation", "ft", "m"), ("area", "m2", "km2"),
    ("carbon_flux", "kg C m-2 a-1", "g C m-2 a-1"), ("carbon_flux", "g C m-2 month-1", "g C m-2 a-1"),
    ("carbon_flux_monthly", "g C m-2 a-1", "g C m-2 month-1"),
])
def test_refused_spellings_name_file_variable_and_the_accepted_ones(quantity, units, expected):
    da = xr.DataArray([1.0], dims="i", name="tas", attrs={"units": units})
    with pytest.raises(NepInputError) as e:
        check_units(da, quantity, file="/data/in.nc")
    msg = str(e.value)
    assert "'/data/in.nc'" in msg and "variable 'tas'" in msg and f"units {units!r} not accepted" in msg
    assert f"expected units {expected!r}" in msg
    assert all(repr(u) in msg for u in QUANTITIES[quantity].units)      # every accepted spelling
    with pytest.raises(NepInputError, match="variable 'other'"):
        check_units(da, quantity, variable="other")


def test_missing_units():
    da = xr.DataArray([1.0], dims="i", name="t")
    with pytest.raises(NepInputError, match=r"file 'f.csv', variable 't': no 'units' attribute.*'degC'"):
        check_units(da, "temperature", file="f.csv")
    with pytest.raises(NepInputError, match="no 'units'"):
        check_units(da.assign_attrs(units=""), "temperature")
    assert check_units(da, "temperature", missing_ok=True) is None
    assert check_units({"units": ""}, "elevation", missing_ok=True) is None


def test_unit_conversion():
    assert unit_conversion("K", "temperature") == (1.0, -273.15)
    assert unit_conversion("cm", "precipitation_daily") == (10.0, 0.0)
    assert unit_conversion("kJ m-2", "radiation_monthly") == (1e-3, 0.0)
    assert unit_conversion("km", "elevation") == (1000.0, 0.0)
    assert unit_conversion("kgC/m^2", "carbon_flux") == (1000.0, 0.0)   # MOD17's own spelling
    with pytest.raises(NepInputError, match=r"file 'x.csv', variable 'tmean': units 'degF'.*'K'"):
        unit_conversion("degF", "temperature", file="x.csv", variable="tmean")
    with pytest.raises(NepInputError, match="no 'units'"):
        unit_conversion(None, "temperature")
    with pytest.raises(KeyError, match="unknown quantity"):
        check_units("degC", "temprature")


def test_one_table_at_every_boundary():
    """carbon, climate (via its station checks), grid and classify agree on what they accept."""
    t = xr.DataArray([10.0], dims="i", attrs={"units": "C"})
    p = xr.DataArray([50.0], dims="i", attrs={"units": "mm per month"})
    assert np.isfinite(carbon.rh_pei(t, p).values).all()            # "C" and "mm per month" accepted
    with pytest.raises(NepInputError, match="'K' not accepted for air temperature"):
        carbon.rh_pei(t.assign_attrs(units="K"), p)
    assert grid.drywet_zones(xr.DataArray([300.0], dims="i", attrs={"units": "mm/year"})).item() == 2
    with pytest.raises(NepInputError, match="'mm month-1' not accepted for annual precipitation"):
        grid.drywet_zones(xr.DataArray([300.0], dims="i", attrs={"units": "mm month-1"}))
    with pytest.raises(NepInputError, match="not accepted for annual carbon flux"):
        classify.nep_class(xr.DataArray([1.0], dims="i", attrs={"units": "kg C m-2 a-1"}))


def test_names_defined_once_and_used_everywhere():
    assert [p.name for p in vocab.PROVINCES] == list(vocab.PROVINCE_NAMES.values())
    assert set(figures.LC_COLORS) == set(vocab.LANDCOVER_CLASSES.values())
    assert set(figures.PROVINCE_COLORS) == {vocab.REGION_NAME, *vocab.PROVINCE_NAMES.values()}
    # the stats wrappers map every public variant name to a kernel code, and only those
    assert set(stats.CORRECTIONS) == {None, *vocab.CORRECTIONS}
    assert set(stats.HURST_METHODS) == set(vocab.HURST_METHODS)
    assert len(set(stats.CORRECTIONS.values())) == len(stats.CORRECTIONS)
    assert set(io.IGBP_TO_CLASS.values()) == set(vocab.LANDCOVER_CLASSES)
    assert list(vocab.DRIVERS) == list(vocab.CLIMATE_QUANTITIES)
    assert vocab.DRIVERS["prcp"].units == "mm a-1" and vocab.DRIVERS["tmean"].units == "degC"
