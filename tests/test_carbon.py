"""Tests of nep_core.carbon (the lead's module): exact Pei values, units at the boundary, monthly sums."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from nep_core.carbon import annual_rh, nep, rh_pei
from nep_core.config import Rh
from nep_core.errors import NepInputError


def _pei(t, p):
    return 0.22 * (math.exp(0.0913 * t) + math.log(0.3145 * p + 1)) * 30 * 0.465


@pytest.mark.parametrize("t,p", [(10.0, 50.0), (0.0, 0.0), (-15.0, 2.0), (25.0, 300.0)])
def test_rh_pei_exact_values(t, p):
    """The factor 30 * 0.465 multiplies the whole bracket (not only the log term)."""
    assert float(rh_pei(t, p)) == pytest.approx(_pei(t, p), rel=1e-12)
    wrong = 0.22 * (math.exp(0.0913 * t) + math.log(0.3145 * p + 1) * 30 * 0.465)
    assert float(rh_pei(t, p)) != pytest.approx(wrong, rel=1e-3)


def test_rh_pei_reference_number_and_params():
    assert float(rh_pei(10.0, 50.0)) == pytest.approx(16.292, abs=5e-4)
    doubled = rh_pei(10.0, 50.0, Rh(a=0.44))
    assert float(doubled) == pytest.approx(2 * float(rh_pei(10.0, 50.0)), rel=1e-12)


def _monthly(tvals, pvals, years=(2000, 2001)):
    time = pd.date_range(f"{years[0]}-01-01", f"{years[-1]}-12-01", freq="MS")
    t = xr.DataArray(np.resize(tvals, time.size), dims="time", coords={"time": time}, attrs={"units": "degC"})
    p = xr.DataArray(np.resize(pvals, time.size), dims="time", coords={"time": time}, attrs={"units": "mm"})
    return t, p


def test_rh_units_checked_at_the_boundary():
    t, p = _monthly([10.0], [50.0])
    out = rh_pei(t, p)
    assert out.attrs["units"] == "g C m-2 month-1"
    with pytest.raises(NepInputError, match="units 'K'"):
        rh_pei(t.assign_attrs(units="K") + 273.15, p)
    with pytest.raises(NepInputError, match="no 'units'"):
        rh_pei(t.drop_attrs(), p)
    with pytest.raises(NepInputError, match="units 'm'"):
        rh_pei(t, p.assign_attrs(units="m") / 1000)
    with pytest.raises(NepInputError, match="negative precipitation"):
        rh_pei(t, p - 100)


def test_annual_rh_is_sum_of_12_monthly_values_not_annual_means_fed_once():
    """Annual Rh = sum of 12 monthly Rh; feeding the annual mean T and annual total P once is ~1/10."""
    tmon = 10 + 12 * np.sin(np.arange(12) / 12 * 2 * np.pi)
    pmon = np.array([5, 8, 15, 30, 50, 80, 100, 90, 50, 20, 8, 4], float)
    t, p = _monthly(tmon, pmon)
    ann = annual_rh(rh_pei(t, p))
    assert ann["year"].values.tolist() == [2000, 2001] and ann.attrs["units"] == "g C m-2 a-1"
    expected = sum(_pei(a, b) for a, b in zip(tmon, pmon))
    np.testing.assert_allclose(ann.values, [expected, expected], rtol=1e-12)
    pitfall = _pei(tmon.mean(), pmon.sum())
    assert 5 < expected / pitfall < 20            # the pitfall is about a tenth of the right size
    assert ann.values[0] != pytest.approx(pitfall, rel=0.5)


def test_annual_rh_requires_12_months_and_units():
    t, p = _monthly([10.0], [50.0])
    rh = rh_pei(t, p)
    with pytest.raises(NepInputError, match="years without 12 months"):
        annual_rh(rh.isel(time=slice(0, 23)))
    with pytest.raises(NepInputError, match="expected units"):
        annual_rh(rh.assign_attrs(units="g C m-2 a-1"))
    with pytest.raises(NepInputError, match="dimension 'month'"):
        annual_rh(rh, time_dim="month")
    rh2 = rh.copy()
    rh2[5] = np.nan                              # a missing month makes the year NaN, never a partial sum
    assert np.isnan(annual_rh(rh2).values[0]) and np.isfinite(annual_rh(rh2).values[1])


def test_nep_difference_and_units():
    npp = xr.DataArray([500.0, np.nan], dims="p", attrs={"units": "g C m-2 a-1"})
    rh = xr.DataArray([300.0, 200.0], dims="p", attrs={"units": "g C m-2 a-1"})
    out = nep(npp, rh)
    assert out.values[0] == 200.0 and np.isnan(out.values[1]) and out.attrs["units"] == "g C m-2 a-1"
    with pytest.raises(NepInputError, match="expected units"):
        nep(npp.assign_attrs(units="kg C m-2 a-1"), rh)
