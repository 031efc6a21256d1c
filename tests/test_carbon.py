"""Tests of nep_core.carbon (the lead's module): exact Pei values, units at the boundary, monthly sums."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from nep_core.carbon import annual_rh, annual_rh_sets, nep, rh_pei
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


def _cube(seed=0, years=(2000, 2001, 2002), ny=3, nx=4):
    rng = np.random.default_rng(seed)
    time = pd.date_range(f"{years[0]}-01-01", f"{years[-1]}-12-01", freq="MS")
    coords = {"time": time, "y": np.arange(ny), "x": np.arange(nx)}
    t = xr.DataArray(rng.uniform(-25, 30, (time.size, ny, nx)).astype(np.float32), dims=("time", "y", "x"),
                     coords=coords, attrs={"units": "degC"}, name="tmean")
    p = xr.DataArray(rng.gamma(0.6, 40, (time.size, ny, nx)).astype(np.float32), dims=("time", "y", "x"),
                     coords=coords, attrs={"units": "mm"}, name="prcp")
    t[:, 0, 0] = np.nan                         # a pixel outside the region
    p[5, 1, 1] = np.nan                         # one missing month makes that year NaN
    return t, p


@pytest.mark.parametrize("chunked", [False, True])
def test_annual_rh_sets_equal_one_annual_rh_per_set(chunked):
    """One pass over T and P for five constant sets equals annual_rh(rh_pei(...)) of each set."""
    t, p = _cube()
    if chunked:
        t, p = t.chunk({"y": 2, "x": 3}), p.chunk({"y": 2, "x": 3})
    sets = [Rh(), Rh(b=0.0913 * 0.9), Rh(b=0.0913 * 1.1), Rh(c=0.3145 * 0.9), Rh(a=0.3, c=0.3145 * 1.1, days=31)]
    got = annual_rh_sets(t, p, sets)
    assert len(got) == len(sets)
    for q, g in zip(sets, got):
        want = annual_rh(rh_pei(t, p, q)).transpose("year", "y", "x")
        assert g.dims == ("year", "y", "x") and g.dtype == np.float32
        assert g.attrs["units"] == "g C m-2 a-1" and f"b={q.b}" in g.attrs["rh_constants"]
        np.testing.assert_array_equal(g["year"].values, [2000, 2001, 2002])
        np.testing.assert_allclose(g.values, want.values, rtol=2e-6)
        assert np.isnan(g.values[:, 0, 0]).all() and np.isnan(g.values[0, 1, 1])   # NaN kept, not skipped
        assert np.isfinite(g.values[1:, 1, 1]).all()


def test_annual_rh_sets_checks_its_inputs():
    t, p = _cube()
    with pytest.raises(NepInputError, match="12 months"):
        annual_rh_sets(t.isel(time=slice(0, 30)), p.isel(time=slice(0, 30)), [Rh()])
    with pytest.raises(NepInputError, match="units"):
        annual_rh_sets(t.assign_attrs(units="K"), p, [Rh()])
    with pytest.raises(NepInputError, match="negative precipitation"):
        annual_rh_sets(t, p.where(p.time != p.time[3], -1.0), [Rh()])
    with pytest.raises(NepInputError, match="no Rh parameter sets"):
        annual_rh_sets(t, p, [])
    with pytest.raises(NepInputError, match="different 'time'"):
        annual_rh_sets(t, p.assign_coords(time=p.time + pd.Timedelta("1D")), [Rh()])


def test_annual_rh_sets_with_climate_gives_the_annual_aggregates_of_the_same_pass(monkeypatch):
    import dask

    from nep_core import carbon
    from nep_core.climate import annual

    t, p = _cube()
    t, p = t.chunk({"y": 2}), p.chunk({"y": 2})
    calls = []
    real = carbon._rh_sets_kernel
    monkeypatch.setattr(carbon, "_rh_sets_kernel", lambda *a, **k: (calls.append(1), real(*a, **k))[1])
    rhs, tm, pa = annual_rh_sets(t, p, [Rh(), Rh(b=0.1)], with_climate=True)
    dask.compute(tm, pa, *rhs, scheduler="sync")
    assert len(calls) == t.data.npartitions == 2         # one kernel call per monthly block, for all outputs
    monkeypatch.undo()
    want = annual(xr.Dataset({"tmean": t, "prcp": p.assign_attrs(units="mm month-1")}))
    assert tm.dims == pa.dims == ("year", "y", "x")
    # float32 means of 12 months: near 0 degC the relative error of the last bit exceeds 1e-6
    np.testing.assert_allclose(tm.values, want["tmean"].values, rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(pa.values, want["prcp"].values, rtol=1e-6, atol=1e-5)
    assert tm.attrs["units"] == "degC" and pa.attrs["units"] == "mm a-1"
    np.testing.assert_allclose(rhs[0].values, annual_rh_sets(t, p, [Rh()])[0].values)
