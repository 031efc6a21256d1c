"""Tests of nep_core.zonal: exact toy cases and hypothesis properties of areas and shares."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from nep_core import zonal
from nep_core.errors import NepInputError


def test_area_shares_toy_exact():
    """Hypothesis: shares are areas over the classified area; NaN and 0 are reported separately."""
    classes = np.array([[1, 1, 2], [0, np.nan, 2]])
    area = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    df = zonal.area_shares(classes, area, codes=[1, 2, 3])
    assert df["area_km2"].tolist() == [3.0, 9.0, 0.0]
    np.testing.assert_allclose(df["share_pct"], [25.0, 75.0, 0.0])
    assert df.attrs["unclassified_km2"] == 9.0
    assert df.attrs["classified_km2"] == 12.0


def test_area_shares_codes_not_listed_are_unclassified():
    df = zonal.area_shares(np.array([1, 2, 5]), np.array([1.0, 1.0, 2.0]), codes=[1, 2])
    np.testing.assert_allclose(df["share_pct"], [50.0, 50.0])
    assert df.attrs["unclassified_km2"] == 2.0


def test_area_shares_per_group_and_labels_from_flags():
    cls = xr.DataArray(np.array([[1, 2], [2, 2]], np.int8), dims=("y", "x"),
                       attrs={"flag_values": np.array([1, 2]), "flag_meanings": "low_sink high_sink"})
    grp = xr.DataArray(np.array([[1, 1], [2, 0]]), dims=("y", "x"))
    df = zonal.area_shares(cls, np.ones((2, 2)), groups=grp, group_names={1: "A", 2: "B"})
    assert df["group"].tolist() == ["A", "A", "B", "B"]
    assert df["label"].tolist() == ["low sink", "high sink"] * 2
    np.testing.assert_allclose(df["share_pct"], [50, 50, 0, 100])
    assert df.attrs["classified_km2"] == {"A": 2.0, "B": 1.0}   # group 0 not counted at all


def test_area_rejects_wrong_units_and_shape():
    with pytest.raises(NepInputError, match="km2"):
        zonal.area_shares(np.ones((2, 2)), xr.DataArray(np.ones((2, 2)), dims=("y", "x"),
                                                        attrs={"units": "m2"}))
    with pytest.raises(NepInputError, match="shape"):
        zonal.area_shares(np.ones((2, 2)), np.ones((3, 2)))
    with pytest.raises(NepInputError, match="integers"):
        zonal.area_shares(np.array([1.5, 1.0]), np.ones(2))


@pytest.mark.parametrize("block_values", [4_000_000, 2])
def test_bad_codes_raise_from_numpy_and_from_blocks(block_values, monkeypatch):
    """The code checks run inside each block (block_values=2: dask blocks of one row) and raise the
    same errors as on a whole numpy array."""
    monkeypatch.setattr(zonal, "BLOCK_VALUES", block_values)
    area = np.ones((3, 2))
    bad = np.array([[1, 2], [1, 1], [-1, 1]])
    with pytest.raises(NepInputError, match=">= 0"):
        zonal.area_shares(bad, area)
    with pytest.raises(NepInputError, match=">= 0"):
        zonal.area_shares(np.ones((3, 2)), area, groups=bad)
    with pytest.raises(NepInputError, match="integers"):
        zonal.zonal_mean(xr.DataArray(np.ones((3, 2)), dims=("y", "x")), area, bad + 0.5)
    with pytest.raises(NepInputError, match="above k=2"):
        zonal.transition_matrix(np.abs(bad), np.abs(bad) + 1, area, k=2)


def test_zonal_mean_map_and_series_are_area_weighted():
    """Hypothesis: mean = sum(a*x)/sum(a) over finite pixels of each group."""
    x = xr.DataArray(np.array([[1.0, 3.0], [np.nan, 10.0]]), dims=("y", "x"), attrs={"units": "u"})
    area = np.array([[1.0, 3.0], [5.0, 1.0]])
    grp = xr.DataArray(np.array([[1, 1], [1, 2]]), dims=("y", "x"))
    s = zonal.zonal_mean(x, area, grp, names={1: "a", 2: "b"}, total="all")
    assert s["a"] == pytest.approx((1 + 9) / 4)
    assert s["b"] == pytest.approx(10.0)
    assert s["all"] == pytest.approx((1 + 9 + 10) / 5)
    assert s.attrs["units"] == "u"
    series = xr.concat([x, 2 * x], dim=xr.DataArray([2000, 2001], dims="year", name="year"))
    df = zonal.zonal_mean(series, area, grp, names={1: "a", 2: "b"})
    assert list(df.columns) == [2000, 2001]
    np.testing.assert_allclose(df[2001], 2 * df[2000])


def test_zonal_mean_with_yearly_groups():
    x = xr.DataArray(np.ones((2, 1, 2)) * [[[1.0, 5.0]]], dims=("year", "y", "x"),
                     coords={"year": [2000, 2001]})
    g = xr.DataArray(np.array([[[1, 2]], [[1, 1]]]), dims=("year", "y", "x"), coords={"year": [2000, 2001]})
    df = zonal.zonal_mean(x, np.ones((1, 2)), g)
    assert df.loc[1, 2000] == 1.0 and df.loc[2, 2000] == 5.0
    assert df.loc[1, 2001] == 3.0 and np.isnan(df.loc[2, 2001])


def test_transition_matrix_toy_exact_and_changed_share():
    a = np.array([[1, 1, 2, 0]])
    b = np.array([[1, 2, 2, 1]])
    area = np.array([[1.0, 2.0, 3.0, 4.0]])
    m = zonal.transition_matrix(a, b, area, k=2, labels=["forest", "grass"])
    assert m.loc["forest", "forest"] == 1.0
    assert m.loc["forest", "grass"] == 2.0
    assert m.loc["grass", "grass"] == 3.0
    assert m.loc["grass", "forest"] == 0.0
    assert m.attrs["excluded_km2"] == 4.0
    assert zonal.changed_share(m) == pytest.approx(100 * 2 / 6)
    assert zonal.changed_share(a, b, area, k=2) == pytest.approx(100 * 2 / 6)


def test_linear_trend_exact():
    df = pd.DataFrame([[1.0, 3.0, 5.0], [2.0, np.nan, 2.0]], columns=[2000, 2001, 2002])
    out = zonal.linear_trend(df)
    assert out["slope"].tolist() == pytest.approx([2.0, 0.0])
    assert out["intercept"].iloc[0] == pytest.approx(1.0 - 2.0 * 2000)


maps = st.integers(2, 12).flatmap(lambda n: st.tuples(
    hnp.arrays(np.int64, (n, n), elements=st.integers(1, 7)),
    hnp.arrays(np.int64, (n, n), elements=st.integers(1, 7)),
    hnp.arrays(np.float64, (n, n), elements=st.floats(0.01, 100.0)),
))


@settings(max_examples=60, deadline=None)
@given(maps)
def test_transition_totals_equal_class_areas(m):
    """Property: row sums = first-year class areas, column sums = second-year class areas."""
    a, b, area = m
    tm = zonal.transition_matrix(a, b, area, k=7)
    first = zonal.area_shares(a, area, codes=range(1, 8))["area_km2"].to_numpy()
    second = zonal.area_shares(b, area, codes=range(1, 8))["area_km2"].to_numpy()
    np.testing.assert_allclose(tm.sum(axis=1).to_numpy(), first, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(tm.sum(axis=0).to_numpy(), second, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(tm.to_numpy().sum(), area.sum(), rtol=1e-9)
    assert 0.0 <= zonal.changed_share(tm) <= 100.0 + 1e-9


@settings(max_examples=60, deadline=None)
@given(maps, st.integers(1, 3))
def test_shares_sum_to_100(m, ngroups):
    """Property: shares of every non-empty group sum to 100 and areas to the group area."""
    a, b, area = m
    groups = (b % ngroups) + 1
    df = zonal.area_shares(a, area, groups=groups, codes=range(1, 8))
    for g, sub in df.groupby("group"):
        assert sub["share_pct"].sum() == pytest.approx(100.0)
        assert sub["area_km2"].sum() == pytest.approx(area[groups == g].sum())


@pytest.mark.parametrize("block_values", [4_000_000, 120])
@pytest.mark.parametrize("ychunks", [(7, 7, 7, 7, 2), (1,) * 30, (30,), (13, 17)])
def test_zonal_mean_dask_blocks_equal_numpy(ychunks, block_values, monkeypatch):
    """Hypothesis: summing over the stored dask chunks gives the numpy-backed result (whole, or in
    row blocks), for a series, a 2-D map, and yearly (stepped) groups."""
    monkeypatch.setattr(zonal, "BLOCK_VALUES", block_values)   # 120: numpy read in 2-row blocks
    rng = np.random.default_rng(3)
    nt, ny, nx = 5, 30, 11
    v = rng.normal(100, 20, (nt, ny, nx))
    v[rng.random(v.shape) < 0.1] = np.nan
    da = xr.DataArray(v, dims=("year", "y", "x"), coords={"year": np.arange(2000, 2000 + nt)},
                      attrs={"units": "g C m-2 a-1"})
    area = xr.DataArray(rng.uniform(20, 30, (ny, nx)), dims=("y", "x"), attrs={"units": "km2"})
    grp = xr.DataArray(rng.integers(0, 4, (ny, nx)), dims=("y", "x"))
    stepped = xr.DataArray(rng.integers(0, 3, (nt, ny, nx)), dims=("year", "y", "x"))
    lazy = da.chunk({"year": -1, "y": ychunks, "x": 4})
    for a, b in [(da, lazy), (da.isel(year=0), lazy.isel(year=0))]:
        exp = zonal.zonal_mean(a, area, grp, total="all")
        got = zonal.zonal_mean(b, area, grp.chunk({"y": ychunks}), total="all")
        pd.testing.assert_frame_equal(pd.DataFrame(exp), pd.DataFrame(got), rtol=1e-12)
    exp = zonal.zonal_mean(da, area, stepped, names={1: "a", 2: "b"})
    got = zonal.zonal_mean(lazy, area, stepped.chunk({"y": ychunks}), names={1: "a", 2: "b"})
    pd.testing.assert_frame_equal(exp, got, rtol=1e-12)


def test_series_memo_is_invalidated_by_replacing_a_variable():
    """Hypothesis: the memoised yearly series follow the variables they were computed from."""
    from nep_core import tables

    rng = np.random.default_rng(0)
    ds = xr.Dataset({
        "nep": (("year", "y", "x"), rng.normal(200, 30, (4, 5, 6)), {"units": "g C m-2 a-1"}),
        "cell_area": (("y", "x"), np.full((5, 6), 25.0), {"units": "km2"}),
        "province": (("y", "x"), rng.integers(1, 3, (5, 6)).astype(np.int8)),
    }, coords={"year": np.arange(2000, 2004)})
    a = tables.nep_series(ds)
    a.iloc[0, 0] = -1.0                          # the caller's copy, not the memo
    b = tables.nep_series(ds)
    assert b.iloc[0, 0] != -1.0
    pd.testing.assert_frame_equal(b, tables.nep_series(ds.copy(deep=True)))
    ds["nep"] = ds["nep"] + 10.0
    c = tables.nep_series(ds)
    np.testing.assert_allclose(c.to_numpy(), b.to_numpy() + 10.0)


def test_series_memo_reads_a_cube_once(monkeypatch):
    """Hypothesis: a second request for the same series does not aggregate the cube again."""
    from nep_core import tables

    calls = []
    real = zonal.zonal_mean
    monkeypatch.setattr(zonal, "zonal_mean", lambda *a, **k: calls.append(1) or real(*a, **k))
    ds = xr.Dataset({
        "nep": (("year", "y", "x"), np.ones((3, 2, 2)), {"units": "g C m-2 a-1"}),
        "cell_area": (("y", "x"), np.ones((2, 2)), {"units": "km2"}),
        "province": (("y", "x"), np.ones((2, 2), np.int8)),
    }, coords={"year": [2000, 2001, 2002]})
    tables.nep_series(ds)
    tables.nep_series(ds)
    assert len(calls) == 1


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), rows=st.integers(1, 7))
def test_area_shares_row_blocks_equal_whole_map(seed, rows):
    """area_shares sums its (group, class) areas over row blocks of a numpy input (bounded
    temporaries at 500 m): any block height gives the whole-map result, with NaN classes, 3-D class
    stacks and groups."""
    rng = np.random.default_rng(seed)
    cls = rng.integers(0, 5, (2, 9, 6)).astype(float)
    cls[rng.random(cls.shape) < 0.1] = np.nan
    area = rng.uniform(0.5, 2.0, (9, 6))
    groups = rng.integers(0, 4, (9, 6))
    whole = zonal.area_shares(cls, area, groups=groups)
    saved = zonal.BLOCK_VALUES
    try:
        zonal.BLOCK_VALUES = rows * cls.shape[0] * cls.shape[-1]          # blocks of `rows` rows
        blocked = zonal.area_shares(cls, area, groups=groups)
    finally:
        zonal.BLOCK_VALUES = saved
    pd.testing.assert_frame_equal(blocked, whole, check_exact=False, rtol=1e-12)
    assert blocked.attrs["unclassified_km2"] == pytest.approx(whole.attrs["unclassified_km2"])
    # and against a direct count
    for (g, c), r in blocked.set_index(["group", "class"]).iterrows():
        m = (np.broadcast_to(groups, cls.shape) == g) & (cls == c)
        assert r["area_km2"] == pytest.approx(float(np.broadcast_to(area, cls.shape)[m].sum()))


def test_validated_cell_area_is_reused_only_while_unchanged():
    from nep_core import zonal

    area = np.full((4, 5), 2.0)
    area[0, 0] = np.nan
    a1 = zonal._check_area(area, (4, 5))
    assert zonal._check_area(area, (3, 4, 5)) is a1                  # same array, unchanged: reused
    assert a1[0, 0] == 0 and not a1.flags.writeable
    area[1, 1] = 7.0                                                   # changed in place: validated again
    a2 = zonal._check_area(area, (4, 5))
    assert a2 is not a1 and a2[1, 1] == 7.0
    area[2, 2] = -1.0
    with pytest.raises(NepInputError, match="negative cell areas"):
        zonal._check_area(area, (4, 5))
    with pytest.raises(NepInputError, match="does not match"):
        zonal._check_area(np.ones((4, 5)), (5, 4))


def _rel(got, exp) -> float:
    got, exp = np.asarray(got, float), np.asarray(exp, float)
    assert (np.isnan(got) == np.isnan(exp)).all()
    ok = ~np.isnan(exp)
    return float(np.max(np.abs(got[ok] - exp[ok]) / np.maximum(np.abs(exp[ok]), 1e-300), initial=0.0))


def test_default_run_equals_plain_numpy_reference(default_results):
    """Hypothesis: on the default 5 km results, every zonal reduction the tables use (yearly means
    per province with a total row, a map mean per land-cover class, class shares per province, the
    land-cover transition matrix) equals a plain per-group numpy computation to 1e-12 relative
    (only the float64 summation order differs)."""
    ds = default_results.ds
    # cell areas made unequal (the 5 km cells are all 25 km2, whose sums are exact in any order)
    ripple = 1 + 0.1 * np.sin(np.arange(ds.sizes["y"]))[:, None]
    cell = (ds["cell_area"] * ripple).assign_attrs(units="km2")
    area = np.nan_to_num(cell.values.astype(np.float64))
    prov = ds["province"].values
    pcodes = [1, 2, 3, 4, 5]
    worst = []

    def ref_mean(x, member):                  # x (..., y, x); member (y, x) bool
        x = np.asarray(x, np.float64)
        ok = member & np.isfinite(x)
        with np.errstate(invalid="ignore"):     # 0 / 0 = NaN for a class without pixels, as in zonal
            return np.where(ok, x * area, 0).sum(axis=(-2, -1)) / np.where(ok, area, 0).sum(axis=(-2, -1))

    nep = ds["nep"].transpose("year", "y", "x").values
    got = zonal.zonal_mean(ds["nep"], cell, ds["province"], names={c: c for c in pcodes},
                           total="all")
    exp = [ref_mean(nep, prov == c) for c in pcodes] + [ref_mean(nep, np.isin(prov, pcodes))]
    assert list(got.index) == [*pcodes, "all"] and list(got.columns) == list(ds["year"].values)
    worst.append(_rel(got.to_numpy(), np.array(exp)))

    lc = ds["landcover"].sel(lc_year=2022).where(ds["province"] > 0, 0).values
    got = zonal.zonal_mean(ds["nep_mean"], cell, lc, names={c: c for c in range(1, 8)})
    worst.append(_rel(got.to_numpy(), [ref_mean(ds["nep_mean"].values, lc == c) for c in range(1, 8)]))

    cls = ds["trend_class"].where(ds["province"] > 0).values
    got = zonal.area_shares(cls, cell, groups=prov, codes=range(1, 10))
    assert got["group"].tolist() == np.repeat(pcodes, 9).tolist()
    exp = np.array([[area[(prov == g) & (cls == c)].sum() for c in range(1, 10)] for g in pcodes])
    worst.append(_rel(got["area_km2"], exp.ravel()))
    worst.append(_rel(got["share_pct"], (100 * exp / exp.sum(axis=1, keepdims=True)).ravel()))
    unclassified = [area[(prov == g) & ~np.isin(cls, range(1, 10))].sum() for g in pcodes]
    worst.append(_rel(list(got.attrs["unclassified_km2"].values()), unclassified))

    a = ds["landcover"].sel(lc_year=2000).values
    b = ds["landcover"].sel(lc_year=2022).values
    got = zonal.transition_matrix(a, b, cell, k=7)
    exp = [[area[(a == i) & (b == j)].sum() for j in range(1, 8)] for i in range(1, 8)]
    worst.append(_rel(got.to_numpy(), exp))
    worst.append(_rel(got.attrs["excluded_km2"], area[(a > 0) != (b > 0)].sum()))
    assert max(worst) <= 1e-12, worst
