"""nep_core.store: atomic writes; Zarr stage stores and the results NetCDF round-trip exactly."""
from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from nep_core.store import atomic_path, open_zarr, write_netcdf, write_text, write_zarr


def _dataset(ny=20, nx=27, nt=6):
    """A stage-like Dataset: float32 cube with NaN, int8 class cube with zeros, bool, int16, float64 maps."""
    rng = np.random.default_rng(3)
    cube = rng.normal(200, 50, (nt, ny, nx)).astype(np.float32)
    cube[:, :5, :9] = np.nan                                   # whole chunks of NaN, as outside the region
    return xr.Dataset(
        {"nep": (("year", "y", "x"), cube, {"units": "g C m-2 a-1", "long_name": "NEP"}),
         "landcover": (("lc_year", "y", "x"), rng.integers(0, 8, (nt - 1, ny, nx)).astype(np.int8),
                       {"units": "1", "flag_values": np.arange(8, dtype=np.int8), "flag_meanings": "a b"}),
         "n_valid": (("y", "x"), rng.integers(0, 25, (ny, nx)).astype(np.int16)),
         "region": (("y", "x"), rng.random((ny, nx)) < 0.5),
         "slope": (("y", "x"), rng.normal(size=(ny, nx)), {"units": "g C m-2 a-2"})},
        coords={"year": np.arange(2000, 2000 + nt), "lc_year": np.arange(2000, 1999 + nt),
                "y": np.arange(ny)[::-1] * 500.0, "x": np.arange(nx) * 500.0,
                "lon": (("y", "x"), rng.normal(size=(ny, nx)))},
        attrs={"title": "stage", "resolution_m": 500.0})


@pytest.mark.parametrize("dask_blocks", [None, 8, 16])
def test_zarr_stage_store_round_trips_exactly(tmp_path, dask_blocks):
    """Values (NaN, int zeros), dtypes, attributes and coordinates come back identical, from numpy-
    or dask-backed variables whose blocks are whole multiples of the stored chunks."""
    ds = _dataset()
    src = ds if dask_blocks is None else ds.chunk({"y": dask_blocks, "x": dask_blocks})
    write_zarr(src, tmp_path / "s.zarr", chunks={"y": 8, "x": 8})
    back = open_zarr(tmp_path / "s.zarr")
    assert back["nep"].chunks == ((6,), (8, 8, 4), (8, 8, 8, 3))      # time whole, space by the chunks
    xr.testing.assert_identical(back.load(), ds)
    assert back["landcover"].attrs["flag_values"].dtype == np.int8      # CF: the variable's own type
    assert open_zarr(tmp_path / "s.zarr", chunks={"y": 16, "x": 16})["nep"].chunks[1] == (16, 4)


def test_zarr_store_is_not_overwritten(tmp_path):
    write_zarr(_dataset(), tmp_path / "s.zarr")
    with pytest.raises(FileExistsError):
        write_zarr(_dataset(), tmp_path / "s.zarr")


def test_results_netcdf_is_cf_readable_and_exact(tmp_path):
    """The results file is NetCDF-4 that netCDF-C reads back to the same values; deflated with the
    shuffle filter in (time whole, 8, 8) chunks."""
    import netCDF4

    ds = _dataset().chunk({"y": 8, "x": 8})
    out = write_netcdf(ds, tmp_path / "results.nc", chunks={"y": 8, "x": 8})
    with xr.open_dataset(out, engine="netcdf4") as back:
        xr.testing.assert_identical(back.load().drop_encoding(), _dataset())
    with netCDF4.Dataset(out) as nc:
        v = nc["nep"]
        assert v.chunking() == [6, 8, 8] and v.filters()["zlib"] and v.filters()["shuffle"]


@pytest.mark.parametrize("kind", ["netcdf", "zarr-dir", "text"])
def test_failed_write_leaves_neither_the_final_name_nor_a_temporary(tmp_path, kind):
    ds = _dataset()

    def boom(block):
        raise RuntimeError("disk gone")

    bad = ds.chunk({"y": 8, "x": 8})
    bad["nep"] = bad["nep"].copy(data=bad["nep"].data.map_blocks(boom, dtype=np.float32))
    final = tmp_path / {"netcdf": "r.nc", "zarr-dir": "stage", "text": "t.csv"}[kind]
    with pytest.raises(RuntimeError, match="disk gone"):
        if kind == "netcdf":
            write_netcdf(bad, final)
        elif kind == "zarr-dir":
            with atomic_path(final, directory=True) as tmp:
                write_zarr(bad, tmp / "data.zarr", chunks={"y": 8, "x": 8})
        else:
            with atomic_path(final) as tmp:
                tmp.write_text("half")
                raise RuntimeError("disk gone")
    assert not final.exists() and not list(tmp_path.glob(".*.tmp"))


def test_atomic_directory_replaces_an_earlier_one_whole(tmp_path):
    final = tmp_path / "stage"
    for text in ("old", "new"):
        with atomic_path(final, directory=True) as tmp:
            (tmp / "a.txt").write_text(text)
    assert (final / "a.txt").read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["stage"]
    assert write_text("x", tmp_path / "t.txt").read_text() == "x"
