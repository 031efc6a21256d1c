"""Atomic writes: a file or directory appears under its final name only when complete."""
from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike, *, directory: bool = False):
    """Yield a temporary path next to ``final``; on success move it into place with ``os.replace``.

    On any exception the temporary is removed and ``final`` is left untouched (an earlier complete
    version, if any, survives). The temporary lives in the same directory, so the rename is atomic
    on POSIX file systems.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    if directory:
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    else:
        fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
        os.close(fd)
        tmp = Path(name)
    try:
        yield tmp
        _public(tmp)
        if directory and final.exists():
            old = final.with_name(f".{final.name}.old")
            if old.exists():
                shutil.rmtree(old)
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old)
        else:
            os.replace(tmp, final)
    except BaseException:
        if tmp.exists():
            shutil.rmtree(tmp) if tmp.is_dir() else tmp.unlink()
        raise


def _public(path: Path):
    """mkstemp/mkdtemp create 0600/0700; a finished output gets the ordinary umask permissions."""
    umask = os.umask(0)
    os.umask(umask)
    if path.is_dir():
        for p in [path, *path.rglob("*")]:
            os.chmod(p, (0o777 if p.is_dir() else 0o666) & ~umask)
    elif path.exists():
        os.chmod(path, 0o666 & ~umask)


def write_netcdf(ds, final: str | os.PathLike, compress: bool = True, raw_chunks: dict | None = None,
                 parallel_deflate: bool = True, chunks: dict | None = None, **kwargs) -> Path:
    """Write an xarray Dataset to NetCDF-4 (h5netcdf engine) atomically; dask arrays stream by chunk.

    ``compress`` deflates (level 1, after the HDF5 byte shuffle) every variable with two or more
    dimensions: the NaN outside the region and the small integer class maps shrink several-fold.
    The shuffle groups the bytes of each value by significance, so deflate sees long runs: on a
    500 m float32 climate cube it writes 1.7x and reads 1.4x faster than deflate alone, and the
    file is 4.3x instead of 2.9x smaller (measured 2026-12-02). Both filters are standard netCDF-4.

    ``raw_chunks`` maps variable names to ``(file, variable)`` of an HDF5 / NetCDF-4 file that
    already stores exactly these values (the caller's guarantee: the variable was opened lazily from
    that file and its values were not changed; attributes and coordinates may differ). When that
    file's dataset has the shape, dtype, chunk shape, fill value and filter pipeline this write would
    give it, its compressed chunks are copied byte for byte (no decompression or deflate) instead of
    being recomputed; otherwise the variable is written the ordinary way. The variable's metadata
    (CF encoding, attributes, ``coordinates``, dimension scales) is what ``to_netcdf`` would write.

    ``chunks`` (dimension -> length) sets the stored chunk shape of dask-backed variables along
    those dimensions; by default a variable is stored in chunks of its dask blocks. Blocks that
    are whole multiples of the chunks still deflate in parallel (several chunks per task).

    ``parallel_deflate``: dask-backed numeric variables whose blocks are their HDF5 chunks are
    shuffled and deflated in the dask worker threads and written as finished chunks (see
    ``_append_variables``); the file is the one ``to_netcdf`` writes, with the deflate on every core
    instead of one. Not used under a dask.distributed client (then xarray writes as usual).
    """
    final = Path(final)
    enc = dict(kwargs.pop("encoding", None) or {})
    if compress:
        for name, var in ds.data_vars.items():
            if var.ndim >= 2 and var.dtype.kind in "iufb" and name not in enc:
                e = {"zlib": True, "complevel": 1, "shuffle": True}
                if var.chunks is not None:
                    e["chunksizes"] = tuple(min((chunks or {}).get(d, c[0]), sum(c))
                                            for d, c in zip(var.dims, var.chunks))
                enc[name] = e
    raw = {name: src for name, src in (raw_chunks or {}).items()
           if name in ds.data_vars and name in enc and _copyable(ds[name], enc[name], *src)}
    par = [name for name, var in ds.data_vars.items()
           if name not in raw and name in enc and _parallel_ok(var, enc[name])] \
        if parallel_deflate and _local_scheduler() else []
    with atomic_path(final) as tmp:
        rest = ds.drop_vars([*raw, *par])
        rest.to_netcdf(tmp, engine="h5netcdf", encoding={k: v for k, v in enc.items() if k in rest.data_vars},
                       **kwargs)
        if raw or par:
            _append_variables(ds, tmp, raw, par, enc)
    return final


def _local_scheduler() -> bool:
    """True unless a dask.distributed client is the default (its workers cannot share our h5py handle)."""
    try:
        from distributed import default_client

        default_client()
        return False
    except (ImportError, ValueError):
        return True


def _parallel_ok(var, enc: dict) -> bool:
    """A dask-backed numeric variable, deflated, whose dask blocks are whole HDF5 chunks."""
    if var.chunks is None or var.dtype.kind not in "iuf" or not enc.get("zlib") or not enc.get("chunksizes"):
        return False
    if set(enc) - {"zlib", "complevel", "shuffle", "chunksizes"}:
        return False
    return _blocks_align(var.chunks, tuple(enc["chunksizes"]))


def _copyable(var, enc: dict, src, src_name) -> bool:
    """Whether ``src[src_name]`` stores chunks this write would produce for ``var`` (dask-backed)."""
    import h5py

    if var.chunks is None or not enc.get("zlib") or not enc.get("chunksizes"):
        return False
    try:
        with h5py.File(src, "r") as f:
            d = f[src_name]
            return (d.shape == var.shape and d.dtype == var.dtype and d.chunks == tuple(enc["chunksizes"])
                    and d.compression == "gzip" and d.compression_opts == enc.get("complevel")
                    and bool(d.shuffle) == bool(enc.get("shuffle")) and not d.fletcher32
                    and d.scaleoffset is None)
    except (OSError, KeyError):
        return False


def _filters(dset) -> list:
    plist = dset.id.get_create_plist()
    return [plist.get_filter(i)[:3] for i in range(plist.get_nfilters())]


def _append_variables(ds, path: Path, raw: dict, par: list, enc: dict):
    """Create the ``raw`` and ``par`` variables in ``path`` exactly as ``to_netcdf`` would (CF
    encoding, attributes, ``coordinates``, dimension scales, filters), then fill them: ``raw`` by
    copying the stored compressed chunks of their source files, ``par`` by computing each dask block,
    shuffling and deflating it in the worker thread (ISA-L releases the GIL, so the deflate runs on
    every core) and writing the finished chunk with ``write_direct_chunk`` under a lock. xarray's own
    write deflates inside HDF5 under its global lock, so one core compresses while the others wait.
    """
    import threading

    import dask.array as da
    import h5netcdf
    import h5py
    from xarray import conventions

    names = [*raw, *par]
    variables, _ = conventions.encode_dataset_coordinates(ds[names])
    for name in names:
        variables[name].encoding = dict(enc[name])
    variables, _ = conventions.cf_encoder({k: variables[k] for k in names}, {})
    lock = threading.Lock()
    sources, targets = [], []
    # coordinates that no written variable lists go into a global ``coordinates`` attribute; decide
    # it for the whole dataset, not for the part written first
    _, global_attrs = conventions.encode_dataset_coordinates(ds)
    with h5netcdf.File(path, "a") as out:
        if "coordinates" in global_attrs:
            out.attrs["coordinates"] = global_attrs["coordinates"]
        elif "coordinates" in out.attrs:
            del out.attrs["coordinates"]
        for name in names:
            v = variables[name]
            attrs = dict(v.attrs)
            fill = attrs.pop("_FillValue", None)
            e = v.encoding
            var = out.create_variable(name, dimensions=v.dims, dtype=v.dtype, fillvalue=fill,
                                      compression="gzip", compression_opts=e["complevel"],
                                      shuffle=bool(e.get("shuffle")), chunks=tuple(e["chunksizes"]))
            for k, val in attrs.items():
                var.attrs[k] = val
            dst = var._h5ds
            if name in par:
                data = v.data
                if not isinstance(data, da.Array) or data.dtype != dst.dtype:
                    raise RuntimeError(f"{path}: variable {name!r}: encoded data is not a {dst.dtype} dask array")
                sources.append(data)
                targets.append(_DeflatedChunks(dst, lock))
                continue
            src, src_name = raw[name]
            with h5py.File(src, "r") as f:
                s = f[src_name]
                same_fill = (np.array_equal(s.fillvalue, dst.fillvalue, equal_nan=True)
                             if s.dtype.kind == "f" else s.fillvalue == dst.fillvalue)
                if _filters(s) != _filters(dst) or s.chunks != dst.chunks or s.dtype != dst.dtype or not same_fill:
                    raise RuntimeError(f"{path}: variable {name!r} cannot take the stored chunks of "
                                       f"{src}:{src_name} (filters, chunks, dtype or fill value differ)")
                sid, did = s.id, dst.id
                for i in range(sid.get_num_chunks()):
                    offset = sid.get_chunk_info(i).chunk_offset
                    mask, chunk = sid.read_direct_chunk(offset)
                    did.write_direct_chunk(offset, chunk, mask)
        if sources:
            da.store(sources, targets, lock=False)


class _DeflatedChunks:
    """A ``dask.array.store`` target: each block is one HDF5 chunk, filtered here and written raw.

    Applies the dataset's own filter pipeline (HDF5 byte shuffle, then zlib deflate; checked when
    created) and pads edge blocks to the full chunk with the fill value, as HDF5 stores them.
    """

    SHUFFLE, DEFLATE = 2, 1     # HDF5 filter ids (H5Z_FILTER_SHUFFLE, H5Z_FILTER_DEFLATE)

    def __init__(self, dset, lock):
        filters = _filters(dset)
        ids = [f[0] for f in filters]
        if ids not in ([self.SHUFFLE, self.DEFLATE], [self.DEFLATE]):
            raise RuntimeError(f"{dset.name}: unsupported filter pipeline {filters}")
        self.dset, self.lock = dset, lock
        self.shuffle = ids[0] == self.SHUFFLE
        self.level = int(filters[-1][2][0])
        self.chunks = dset.chunks
        self.dtype = dset.dtype
        self.fill = np.asarray(dset.fillvalue if dset.fillvalue is not None else 0, self.dtype)
        self.shape = dset.shape
        self.ndim = dset.ndim

    def __setitem__(self, key, value):
        offset = tuple(k.start or 0 for k in key)
        if any(o % c for o, c in zip(offset, self.chunks)):
            raise RuntimeError(f"{self.dset.name}: block at {offset} is not aligned to the chunks {self.chunks}")
        block = np.asarray(value, dtype=self.dtype)
        # a block may hold several chunks (whole ones, except at the array's far edges)
        for idx in np.ndindex(*[-(-n // c) for n, c in zip(block.shape, self.chunks)]):
            part = tuple(slice(i * c, (i + 1) * c) for i, c in zip(idx, self.chunks))
            self._write_chunk(tuple(o + p.start for o, p in zip(offset, part)), block[part])

    def _write_chunk(self, offset, chunk):
        import zlib

        from isal import isal_zlib

        if chunk.shape != self.chunks:
            full = np.full(self.chunks, self.fill, self.dtype)
            full[tuple(slice(0, n) for n in chunk.shape)] = chunk
            chunk = full
        raw = np.ascontiguousarray(chunk).reshape(-1).view(np.uint8)
        if self.shuffle and self.dtype.itemsize > 1:
            raw = _byte_shuffle(raw, self.dtype.itemsize)
        # ISA-L deflate (python-isal): a standard zlib stream, 5-8x faster than zlib at level 1 with
        # the same ratio on our cubes (1.56 vs 1.58 on a 500 m temperature chunk, 2026-12-02)
        data = isal_zlib.compress(raw, self.level) if self.level <= 3 else zlib.compress(raw, self.level)
        with self.lock:
            self.dset.id.write_direct_chunk(offset, data, 0)


def open_netcdf(path: str | os.PathLike, chunks=None):
    """``xr.open_dataset(path, engine="h5netcdf", chunks=chunks)``, with chunk reads that run in parallel.

    xarray reads a chunk through HDF5 under its global lock, so inflating the chunks of a compressed
    cube runs on one core. Here every dask-backed variable whose dask blocks are its HDF5 chunks,
    filtered by deflate (with or without the byte shuffle) and stored as its decoded dtype (no scale,
    offset or non-NaN fill value to apply), reads each chunk's compressed bytes under the lock
    (``read_direct_chunk``) and inflates and unshuffles them in the worker thread. A dask block may
    span several whole chunks (``chunks`` a multiple of the stored chunk shape); its task reads
    them with one file open. The values are those xarray reads (tested); other variables are left
    to xarray.
    """
    import dask.array as da
    import h5py
    import xarray as xr
    from dask.base import tokenize

    path = Path(path)
    ds = xr.open_dataset(path, engine="h5netcdf", chunks=chunks)
    if not _local_scheduler():
        return ds
    stamp = path.stat()
    with h5py.File(path, "r") as f:
        for name, var in ds.data_vars.items():
            if var.chunks is None or name not in f:
                continue
            d = f[name]
            enc = var.encoding
            ids = [flt[0] for flt in _filters(d)]
            fill = enc.get("_FillValue")
            if (ids not in ([_DeflatedChunks.SHUFFLE, _DeflatedChunks.DEFLATE], [_DeflatedChunks.DEFLATE])
                    or d.dtype != var.dtype or d.chunks is None or d.ndim != var.ndim
                    or any(k in enc or k in var.attrs for k in ("scale_factor", "add_offset", "missing_value"))
                    or (fill is not None and not (var.dtype.kind == "f" and _isnan(fill)))
                    or not _blocks_align(var.chunks, d.chunks)):
                continue
            key = f"h5chunks-{name}-" + tokenize(str(path), stamp.st_mtime_ns, stamp.st_size, name, var.chunks)
            starts = [np.cumsum((0,) + c[:-1]) for c in var.chunks]
            graph = {}
            for idx in np.ndindex(*[len(c) for c in var.chunks]):
                offset = tuple(int(starts[a][i]) for a, i in enumerate(idx))
                shape = tuple(var.chunks[a][i] for a, i in enumerate(idx))
                graph[(key, *idx)] = (_read_block, str(path), name, offset, shape)
            arr = da.Array(graph, key, chunks=var.chunks, dtype=var.dtype)
            ds[name] = var.copy(data=arr)
    return ds


def _isnan(x) -> bool:
    try:
        return bool(np.isnan(x))
    except TypeError:
        return False


def _blocks_align(dask_chunks, h5_chunks) -> bool:
    """Every dask block starts on an HDF5 chunk boundary: all blocks but the last along each axis
    are whole multiples of the chunk size (the last one ends at the array's edge)."""
    return len(dask_chunks) == len(h5_chunks) and all(
        all(c % size == 0 for c in chunks[:-1]) for chunks, size in zip(dask_chunks, h5_chunks))


def _read_block(path: str, name: str, offset: tuple, shape: tuple) -> np.ndarray:
    """The block of ``path:name`` at ``offset`` (on a chunk boundary) of ``shape``: its chunks'
    stored bytes are read under one file open, then inflated and unshuffled outside HDF5."""
    import h5py

    with h5py.File(path, "r") as f:
        d = f[name]
        dtype, cshape = d.dtype, d.chunks
        ids = [flt[0] for flt in _filters(d)]
        fill = d.fillvalue
        stored = []
        for idx in np.ndindex(*[-(-n // c) for n, c in zip(shape, cshape)]):
            coff = tuple(o + i * c for o, i, c in zip(offset, idx, cshape))
            if d.id.get_chunk_info_by_coord(coff).byte_offset is None:     # never written: fill
                stored.append((idx, None, None))
            else:
                stored.append((idx, *d.id.read_direct_chunk(coff)))

    def damaged(idx, exc):
        coff = tuple(o + i * c for o, i, c in zip(offset, idx, cshape))
        return OSError(f"{path}: variable {name!r}: the stored chunk at {coff} cannot be decoded "
                       f"({type(exc).__name__}: {exc}); the file is damaged")

    def decode(idx, mask, data):
        if data is None:
            return np.full(cshape, fill, dtype)
        try:
            return _decode_chunk(mask, data, ids, dtype, cshape)
        except Exception as exc:
            raise damaged(idx, exc) from exc

    if len(stored) == 1:
        out = decode(*stored[0])
        return out if out.shape == tuple(shape) else out[tuple(slice(0, n) for n in shape)]
    out = np.empty(shape, dtype)
    # shuffled + deflated chunks of a 2-D or 3-D block whose leading axis is whole: inflated, then
    # unshuffled straight into their place in the block (no second copy)
    into = (ids == [_DeflatedChunks.SHUFFLE, _DeflatedChunks.DEFLATE]
            and dtype.itemsize in _unshuffle_kernels()
            and len(shape) in (2, 3) and (len(shape) == 2 or shape[0] == cshape[0]))
    ny, nx = shape[-2:]
    flat = out.reshape(-1).view(f"u{dtype.itemsize}") if into else None
    for idx, mask, data in stored:
        dst = tuple(slice(i * c, min((i + 1) * c, n)) for i, c, n in zip(idx, cshape, shape))
        if into and data is not None and mask == 0:
            try:
                raw = np.frombuffer(_inflate(data, dtype, cshape), np.uint8)
            except Exception as exc:
                raise damaged(idx, exc) from exc
            ys, xs = dst[-2], dst[-1]
            _unshuffle_kernels()[dtype.itemsize][1](
                raw, flat, cshape[-2], cshape[-1], shape[0] if len(shape) == 3 else 1,
                ys.stop - ys.start, xs.stop - xs.start, ny, nx, ys.start, xs.start)
        else:
            out[dst] = decode(idx, mask, data)[tuple(slice(0, s.stop - s.start) for s in dst)]
    return out


def _inflate(data: bytes, dtype, cshape: tuple) -> bytes:
    """The zlib stream of a deflated chunk of ``cshape`` x ``dtype``, inflated by libdeflate
    (whole-buffer, output size known): 1.2-1.7x ISA-L's inflate and about 2x zlib's on our cubes
    (measured 2026-12-02)."""
    import deflate

    return deflate.zlib_decompress(data, int(np.prod(cshape)) * dtype.itemsize)


def _decode_chunk(mask: int, data: bytes, ids: list, dtype, cshape: tuple) -> np.ndarray:
    """A stored chunk's bytes through the inverse of its filter pipeline (``ids``: HDF5 filter ids
    in pipeline order), as a writable array of the full chunk shape."""
    # filter_mask bit i set = filter i of the pipeline was skipped for this chunk
    for i, fid in reversed(list(enumerate(ids))):
        if mask & (1 << i):
            continue
        if fid == _DeflatedChunks.DEFLATE:
            data = _inflate(data, dtype, cshape)
        elif fid == _DeflatedChunks.SHUFFLE and dtype.itemsize > 1:
            data = _byte_unshuffle(np.frombuffer(data, np.uint8), dtype.itemsize)
    if isinstance(data, np.ndarray):          # unshuffled: a fresh array of ours, no copy needed
        return data.view(dtype).reshape(cshape)
    return np.frombuffer(data, dtype).reshape(cshape).copy()   # immutable bytes: copied


def _unshuffle_kernels():
    """numba kernels inverting the HDF5 byte shuffle for 2-, 4- and 8-byte elements (little-endian
    hosts): each element is composed from its ``size`` byte planes with shifts and stored as one
    unsigned integer, which the compiler vectorises; nogil, so they run in parallel in the dask
    threads. numpy's strided byte transpose took 9 % of the 500 m statistics stage; a byte-by-byte
    loop was 3-4x faster than that, and the composition is about 2x faster again (the forward
    shuffle is as fast in numpy and stays there).

    ``{size: (unshuffle, unshuffle_into)}``: ``unshuffle(src)`` returns a new buffer;
    ``unshuffle_into(src, dst, cy, cx, v0, vy, vx, ny, nx, y0, x0)`` writes the chunk
    ``(c0, cy, cx)`` whose shuffled bytes are ``src`` straight into its place ``[:v0, y0:y0+vy,
    x0:x0+vx]`` of a C-ordered ``(nt, ny, nx)`` block, given as the flat buffer ``dst`` of
    ``size``-byte unsigned integers (``v <= c`` at the block's far edges), so a block of several
    chunks is not copied twice. Slices of the byte planes keep the indices non-negative (numba then
    drops its negative-index check, which otherwise stops the vectorisation)."""
    global _UNSHUFFLE_KERNELS
    if _UNSHUFFLE_KERNELS is None:
        from numba import njit

        def make(size):
            u = f"np.uint{8 * size}"
            compose = " | ".join(f"({u}(s{j}[k]) << {u}({8 * j}))" for j in range(size))
            planes = "".join(f"    s{j} = src[{j} * n + e0:{j} * n + e0 + m]\n" for j in range(size))
            src_code = (
                f"def _compose(src, n, e0, d, m):\n{planes}"
                f"    for k in range(m):\n        d[k] = {compose}\n"
                f"def unshuffle(src):\n    n = src.size // {size}\n    out = np.empty(n, {u})\n"
                f"    _compose(src, n, 0, out, n)\n    return out.view(np.uint8)\n"
                f"def unshuffle_into(src, dst, cy, cx, v0, vy, vx, ny, nx, y0, x0):\n"
                f"    n = src.size // {size}\n"
                f"    for t in range(v0):\n        for yy in range(vy):\n"
                f"            d0 = (t * ny + y0 + yy) * nx + x0\n"
                f"            _compose(src, n, (t * cy + yy) * cx, dst[d0:d0 + vx], vx)\n")
            ns = {"np": np}
            exec(compile(src_code, f"<byte unshuffle {size}>", "exec"), ns)
            ns["_compose"] = njit(nogil=True, inline="always")(ns["_compose"])
            return njit(nogil=True)(ns["unshuffle"]), njit(nogil=True)(ns["unshuffle_into"])

        _UNSHUFFLE_KERNELS = {size: make(size) for size in (2, 4, 8)} if sys.byteorder == "little" else {}
    return _UNSHUFFLE_KERNELS


_UNSHUFFLE_KERNELS = None


def _byte_shuffle(raw: np.ndarray, size: int) -> np.ndarray:
    """HDF5 shuffle filter (H5Z_FILTER_SHUFFLE) of a uint8 buffer of ``size``-byte elements."""
    return np.ascontiguousarray(raw.reshape(-1, size).T).reshape(-1)


def _byte_unshuffle(raw: np.ndarray, size: int) -> np.ndarray:
    """Inverse of :func:`_byte_shuffle`."""
    raw = np.ascontiguousarray(raw)
    k = _unshuffle_kernels().get(size)
    return k[0](raw) if k else np.ascontiguousarray(raw.reshape(size, -1).T).reshape(-1)


def write_text(text: str, final: str | os.PathLike) -> Path:
    final = Path(final)
    with atomic_path(final) as tmp:
        tmp.write_text(text)
    return final
