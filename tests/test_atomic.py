"""Tests of nep_core._atomic: atomic NetCDF writes and the byte-for-byte chunk copy of stored cubes."""
from __future__ import annotations

import h5py
import numpy as np
import pytest
import xarray as xr

from nep_core import _atomic
from nep_core._atomic import write_netcdf

_INTERNAL = {"DIMENSION_LIST", "REFERENCE_LIST", "_Netcdf4Dimid", "_Netcdf4Coordinates", "CLASS", "NAME"}


def _source(tmp_path, chunk=(4, 8, 8)):
    """A stage-like file: a float32 cube with NaN, an int8 cube, a 2-D map; then opened lazily."""
    rng = np.random.default_rng(3)
    ny, nx, nt = 20, 27, 6
    cube = rng.normal(200, 50, (nt, ny, nx)).astype(np.float32)
    cube[:, :5, :9] = np.nan                                   # whole chunks of NaN, as outside the region
    cube[2, 10, 10] = np.nan
    lc = rng.integers(0, 8, (nt - 1, ny, nx)).astype(np.int8)
    ds = xr.Dataset(
        {"nep": (("year", "y", "x"), cube, {"units": "g C m-2 a-1", "long_name": "NEP"}),
         "landcover": (("lc_year", "y", "x"), lc, {"units": "1", "flag_values": np.arange(8, dtype=np.int8)}),
         "slope": (("y", "x"), cube[0] * 0.01, {"units": "g C m-2 a-2"})},
        coords={"year": np.arange(2000, 2000 + nt), "lc_year": np.arange(2000, 1999 + nt),
                "y": np.arange(ny)[::-1] * 500.0, "x": np.arange(nx) * 500.0})
    chunks = {"year": chunk[0], "lc_year": chunk[0], "y": chunk[1], "x": chunk[2]}
    src = tmp_path / "stage.nc"
    write_netcdf(ds.chunk(chunks), src)
    return src, ds, chunks


def _final(src, chunks):
    """The store-like dataset: the cubes opened lazily from ``src``, plus attrs, coords and maps."""
    opened = xr.open_dataset(src, engine="h5netcdf", chunks=chunks)
    ds = opened.assign_coords(spatial_ref=xr.DataArray(np.int64(0), attrs={"crs_wkt": "EPSG:102025"}),
                              lon=(("y", "x"), np.ones((opened.sizes["y"], opened.sizes["x"]))))
    for v in ds.data_vars.values():
        v.attrs["grid_mapping"] = "spatial_ref"
    ds["nep"].attrs["description"] = "added after the stage"
    ds["cv"] = (ds["slope"] * 2).assign_attrs(units="1")
    ds.attrs["title"] = "store"
    return opened, ds


def _h5_meta(path):
    out = {}
    with h5py.File(path, "r") as f:
        for name, d in f.items():
            attrs = {k: (np.asarray(v).tolist() if not isinstance(v, (bytes, str)) else v)
                     for k, v in d.attrs.items() if k not in _INTERNAL}
            out[name] = (d.shape, d.dtype.str, d.chunks, d.compression, d.compression_opts, d.shuffle,
                         np.asarray(d.fillvalue).tobytes(), repr(sorted(attrs.items())))
        out["/"] = repr(sorted((k, str(v)) for k, v in f.attrs.items() if k not in _INTERNAL))
    return out


def _spy(monkeypatch):
    calls = []
    real = _atomic._append_variables
    monkeypatch.setattr(_atomic, "_append_variables",
                        lambda ds, path, raw, par, enc: (calls.append(sorted(raw)), real(ds, path, raw, par, enc)))
    return calls


def test_raw_chunk_copy_gives_the_file_an_ordinary_write_gives(tmp_path, monkeypatch):
    src, _, chunks = _source(tmp_path)
    opened, ds = _final(src, chunks)
    plain, copied = tmp_path / "plain.nc", tmp_path / "copied.nc"
    write_netcdf(ds, plain)
    calls = _spy(monkeypatch)
    write_netcdf(ds, copied, raw_chunks={"nep": (src, "nep"), "landcover": (src, "landcover")})
    assert calls == [["landcover", "nep"]]                    # the copy path was taken for both cubes
    opened.close()
    # the same bytes in every chunk of the copied cubes as the ordinary deflate produced
    with h5py.File(plain, "r") as a, h5py.File(copied, "r") as b, h5py.File(src, "r") as s:
        for name in ("nep", "landcover"):
            n = a[name].id.get_num_chunks()
            assert n == b[name].id.get_num_chunks() == s[name].id.get_num_chunks() > 1
            for i in range(n):
                off = a[name].id.get_chunk_info(i).chunk_offset
                assert b[name].id.read_direct_chunk(off) == a[name].id.read_direct_chunk(off), (name, off)
    # the same metadata, HDF5 level: dtype, chunks, filters, fill value, attributes (incl. coordinates)
    assert _h5_meta(copied) == _h5_meta(plain)
    # and the same decoded dataset, by xarray through HDF5 and through the netCDF-C library
    for engine in ("h5netcdf", "netcdf4"):
        with xr.open_dataset(plain, engine=engine) as p, xr.open_dataset(copied, engine=engine) as c:
            xr.testing.assert_identical(c, p)
            assert c["nep"].attrs["description"] == "added after the stage"
            assert np.isnan(c["nep"].values[:, :5, :9]).all() and np.isnan(c["nep"].values[2, 10, 10])


def test_raw_chunk_copy_falls_back_when_the_stored_chunks_do_not_fit(tmp_path, monkeypatch):
    """Different chunking or filters in the source: written the ordinary way, values unchanged."""
    src, ds0, chunks = _source(tmp_path)
    other = tmp_path / "other.nc"
    write_netcdf(ds0.chunk({"year": 2, "lc_year": 2, "y": 8, "x": 8}), other)     # chunks differ
    nozip = tmp_path / "nozip.nc"
    write_netcdf(ds0.chunk(chunks), nozip, compress=False)                      # no deflate
    opened, ds = _final(src, chunks)
    out = tmp_path / "out.nc"
    calls = _spy(monkeypatch)
    write_netcdf(ds, out, raw_chunks={"nep": (other, "nep"), "landcover": (nozip, "landcover"),
                                      "slope": (tmp_path / "missing.nc", "slope")})
    with xr.open_dataset(out, engine="h5netcdf") as c:
        xr.testing.assert_identical(c[["nep", "landcover", "slope"]].reset_coords(drop=True),
                                    ds[["nep", "landcover", "slope"]].reset_coords(drop=True).load())
    assert calls == [[]]                                      # nothing copied (all written from values)
    with h5py.File(out, "r") as f:
        assert f["nep"].chunks == (4, 8, 8) and f["nep"].shuffle and f["nep"].compression == "gzip"
    opened.close()


def test_write_netcdf_is_atomic(tmp_path):
    """A write that fails half way leaves neither the final name nor a temporary behind."""
    src, ds0, chunks = _source(tmp_path)
    opened, ds = _final(src, chunks)

    def boom(block):
        raise RuntimeError("disk gone")

    ds["nep"] = ds["nep"].copy(data=ds["nep"].data.map_blocks(boom, dtype=np.float32))
    out = tmp_path / "out.nc"
    with pytest.raises(RuntimeError, match="disk gone"):
        write_netcdf(ds, out, raw_chunks={"landcover": (src, "landcover")})
    opened.close()
    assert not out.exists() and not list(tmp_path.glob(".out.nc.*"))


@pytest.mark.parametrize("chunk", [(4, 8, 8), (6, 20, 27)])
def test_parallel_deflate_writes_the_file_xarray_writes(tmp_path, chunk, monkeypatch):
    """Blocks deflated in the dask threads and written as raw chunks (edge chunks padded) decode to
    the same values, with the same metadata, as xarray's own write; netCDF-C reads the file too."""
    src, ds0, chunks = _source(tmp_path, chunk)
    opened, ds = _final(src, chunks)
    ds["count"] = (ds["landcover"].astype(np.int16) * 3).assign_attrs(units="1")
    ds["w64"] = (ds["slope"].astype(np.float64) / 7).assign_attrs(units="1")
    plain, par = tmp_path / "plain.nc", tmp_path / "par.nc"
    write_netcdf(ds, plain, parallel_deflate=False)
    seen = []
    real = _atomic._append_variables
    monkeypatch.setattr(_atomic, "_append_variables",
                        lambda ds, path, raw, par, enc: (seen.append(sorted(par)), real(ds, path, raw, par, enc)))
    write_netcdf(ds, par)
    assert seen == [["count", "cv", "landcover", "nep", "slope", "w64"]]     # every cube and map deflated in parallel
    opened.close()
    assert _h5_meta(par) == _h5_meta(plain)
    with h5py.File(par, "r") as f:
        assert f["nep"].id.get_num_chunks() == int(np.prod([-(-n // c) for n, c in zip(f["nep"].shape, chunk)]))
    for engine in ("h5netcdf", "netcdf4"):
        with xr.open_dataset(plain, engine=engine) as p, xr.open_dataset(par, engine=engine) as c:
            xr.testing.assert_identical(c, p)
            np.testing.assert_array_equal(c["w64"].values, (ds0["slope"].values.astype(np.float64) / 7))


def test_open_netcdf_reads_what_xarray_reads_with_parallel_chunk_reads(tmp_path):
    """Deflated (+/- shuffle) chunks inflated in the dask threads give xarray's values; variables it
    cannot read that way (other chunking, a fill value to mask, a scale factor) are left to xarray."""
    import h5netcdf
    import dask

    from nep_core._atomic import open_netcdf

    src, ds0, chunks = _source(tmp_path, (4, 8, 8))
    path = tmp_path / "mixed.nc"
    with h5netcdf.File(path, "w") as f:
        f.dimensions = {"year": 6, "y": 20, "x": 27}
        for dim, vals in (("year", np.arange(2000, 2006)), ("y", np.arange(20.0)), ("x", np.arange(27.0))):
            f.create_variable(dim, (dim,), data=vals)
        a = f.create_variable("sparse", ("year", "y", "x"), np.float32, chunks=(4, 8, 8), fillvalue=np.nan,
                              compression="gzip", compression_opts=1)
        a[0:4, 0:8, 0:16] = ds0["nep"].values[0:4, 0:8, 0:16]           # other chunks never written
        b = f.create_variable("masked", ("year", "y", "x"), np.int16, chunks=(4, 8, 8), fillvalue=-1,
                              compression="gzip", compression_opts=1, shuffle=True)
        b[...] = np.where(ds0["nep"].values > 200, 1, -1).astype(np.int16)
        c = f.create_variable("scaled", ("y", "x"), np.int16, chunks=(8, 8), compression="gzip")
        c[...] = np.arange(20 * 27, dtype=np.int16).reshape(20, 27)
        c.attrs["scale_factor"] = 0.5
    for p in (src, path):
        want = xr.open_dataset(p, engine="h5netcdf").load()
        got = open_netcdf(p, chunks={})
        fast = {n for n, v in got.data_vars.items() if any(k[0].startswith("h5chunks-") for k in v.data.dask)}
        assert fast == ({"nep", "landcover", "slope"} if p == src else {"sparse"})
        xr.testing.assert_identical(dask.compute(got)[0], want)
        assert got["nep" if p == src else "sparse"].data.npartitions > 1
        got.close()
    with open_netcdf(src, chunks={"y": 5}) as other:                  # blocks are not the chunks
        assert not any(k[0].startswith("h5chunks-") for k in other["nep"].data.dask)


@pytest.mark.parametrize("blocks", [{"y": 16, "x": 16}, {"y": 8, "x": 24}, {"y": -1, "x": -1}])
@pytest.mark.parametrize("nt_chunk", [4, 6])
def test_open_netcdf_blocks_of_several_chunks(tmp_path, blocks, nt_chunk, monkeypatch):
    """Dask blocks spanning several stored chunks (edge blocks partial, chunks never written inside
    a block) are read through the parallel path and give xarray's values, whether the chunks are
    unshuffled straight into the block (2-D, or the time axis one chunk) or copied into it."""
    import h5netcdf
    import dask

    from nep_core._atomic import open_netcdf

    real = _atomic._unshuffle_kernels()
    into_calls = []

    def count(k):
        return lambda *a: (into_calls.append((a[4], a[5], a[6])), k(*a))[1]

    monkeypatch.setattr(_atomic, "_unshuffle_kernels", lambda: {s: (k[0], count(k[1])) for s, k in real.items()})
    src, ds0, chunks = _source(tmp_path, (nt_chunk, 8, 8))
    path = tmp_path / "sparse.nc"
    with h5netcdf.File(path, "w") as f:
        f.dimensions = {"year": 6, "y": 20, "x": 27}
        a = f.create_variable("sparse", ("year", "y", "x"), np.float32, chunks=(4, 8, 8), fillvalue=np.nan,
                              compression="gzip", compression_opts=1, shuffle=True)
        a[0:4, 0:8, 0:16] = ds0["nep"].values[0:4, 0:8, 0:16]           # other chunks never written
        a[4:6, 8:16, 16:27] = ds0["nep"].values[4:6, 8:16, 16:27]
    for p, name in ((src, "nep"), (path, "sparse")):
        want = xr.open_dataset(p, engine="h5netcdf").load()
        got = open_netcdf(p, chunks={**blocks, "year": -1, "lc_year": -1} if p == src else {**blocks, "year": -1})
        assert any(k[0].startswith("h5chunks-") for k in got[name].data.dask)
        y = blocks["y"] if blocks["y"] > 0 else 20
        assert got[name].data.chunks[1][0] == min(y, 20)
        xr.testing.assert_identical(dask.compute(got)[0], want)
        got.close()
    # the 2-D map always, the cubes when their time axis is one chunk, take the direct path
    assert (6, 8, 8) in into_calls if nt_chunk == 6 else (1, 8, 8) in into_calls
    assert any(c[0] == 1 for c in into_calls)


@pytest.mark.parametrize("nt_chunk", [4, 6])
def test_open_netcdf_names_the_file_and_variable_of_a_damaged_chunk(tmp_path, nt_chunk):
    from nep_core._atomic import open_netcdf

    src, ds0, chunks = _source(tmp_path, (nt_chunk, 8, 8))
    with h5py.File(src, "r+") as f:
        mask, data = f["nep"].id.read_direct_chunk((0, 8, 8))
        f["nep"].id.write_direct_chunk((0, 8, 8), data[: len(data) // 2], mask)     # truncated
    with open_netcdf(src, chunks={"year": -1, "lc_year": -1, "y": 16, "x": 16}) as got:
        with pytest.raises(OSError, match=r"stage\.nc: variable 'nep': the stored chunk at \(0, 8, 8\)"):
            got["nep"].values
        np.testing.assert_array_equal(got["landcover"].values, ds0["landcover"].values)


def test_write_netcdf_stores_chunks_smaller_than_the_blocks(tmp_path, monkeypatch):
    """``chunks=`` stores blocks of several chunks in those chunks, deflated in parallel; the file
    is the one xarray writes from the same data in blocks of the chunk size."""
    src, ds0, chunks = _source(tmp_path, (4, 8, 8))
    opened, ds = _final(src, chunks)
    ds = ds.load()
    ds["w64"] = (ds["slope"].astype(np.float64) / 7).assign_attrs(units="1")
    seen = []
    real = _atomic._append_variables
    monkeypatch.setattr(_atomic, "_append_variables",
                        lambda ds, path, raw, par, enc: (seen.append(sorted(par)), real(ds, path, raw, par, enc)))
    big, plain = tmp_path / "big.nc", tmp_path / "plain.nc"
    write_netcdf(ds.chunk({"year": -1, "lc_year": -1, "y": 16, "x": 16}), big, chunks={"y": 8, "x": 8})
    assert seen == [["cv", "landcover", "nep", "slope", "w64"]]
    write_netcdf(ds.chunk({"year": -1, "lc_year": -1, "y": 8, "x": 8}), plain, parallel_deflate=False)
    opened.close()
    assert _h5_meta(big) == _h5_meta(plain)
    with h5py.File(big, "r") as f:
        assert f["nep"].chunks == (6, 8, 8) and f["slope"].chunks == (8, 8)
    with xr.open_dataset(plain, engine="h5netcdf") as p, xr.open_dataset(big, engine="h5netcdf") as b:
        xr.testing.assert_identical(b, p)


@pytest.mark.parametrize("dtype", ["f4", "f8", "i2", "i1", "V3"])
def test_byte_shuffle_is_hdf5s_and_inverts(dtype):
    from nep_core._atomic import _byte_shuffle, _byte_unshuffle

    raw = np.random.default_rng(1).integers(0, 256, 24 * 1001, dtype=np.uint8)
    size = np.dtype(dtype).itemsize
    planes = raw.reshape(-1, size).T.reshape(-1)            # byte j of every element, then byte j + 1
    np.testing.assert_array_equal(_byte_shuffle(raw, size), planes)
    np.testing.assert_array_equal(_byte_unshuffle(planes, size), raw)
