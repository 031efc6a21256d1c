"""The scenario's truth store ``truth.nc``: NetCDF layout and the realised partial correlations.

The store is written with netCDF4 directly, year by year into chunked (year, y, x) variables: at 500 m
each float32 cube is 2.5 GB (24 years x 4142 x 6357 cells) and xarray cannot write one year of an
existing NetCDF variable. The partial correlations are computed here, not
with :func:`nep_core.stats.partial_corr`, so that the truth is independent of the code it checks.
"""
from __future__ import annotations

import numpy as np

from ..crs import CRS_ALBERS
from ._common import LC_YEARS, SYNTHETIC_NOTE


def create(path, grid, years, stations):
    """Open a new truth store with its dimensions, coordinates and ``spatial_ref``."""
    import netCDF4
    from pyproj import CRS

    ny, nx = grid["region"].shape
    nc = netCDF4.Dataset(path, "w", format="NETCDF4")
    nc.setncatts({"title": "Truth store of the nep_core synthetic scenario", "comment": SYNTHETIC_NOTE,
                  "Conventions": "CF-1.8"})
    for name, size in (("year", len(years)), ("lc_year", len(LC_YEARS)), ("y", ny), ("x", nx),
                       ("period", 2), ("from_class", 7), ("to_class", 7), ("station", len(stations)),
                       ("time", 12 * len(years))):
        nc.createDimension(name, size)
    for name, vals in (("year", np.array(years)), ("lc_year", np.array(LC_YEARS)), ("x", grid["x"].values),
                       ("y", grid["y"].values), ("from_class", np.arange(1, 8)),
                       ("to_class", np.arange(1, 8))):
        v = nc.createVariable(name, vals.dtype, (name,))
        v[:] = vals
        v.setncatts({"units": "m", "standard_name": f"projection_{name}_coordinate"} if name in ("x", "y")
                    else {"units": "1"})
    wkt = CRS.from_user_input(CRS_ALBERS).to_wkt()
    nc.createVariable("spatial_ref", "i4").setncatts({"crs_wkt": wkt, "spatial_ref": wkt})
    return nc


def variable(nc, name, dtype, dims, attrs, fill=None, chunk=None):
    """A deflated variable (level 1); gridded ones get ``grid_mapping``."""
    kw = {"zlib": True, "complevel": 1}
    if chunk is not None:
        kw["chunksizes"] = chunk
    v = nc.createVariable(name, dtype, dims, fill_value=fill, **kw)
    a = dict(attrs)
    if dims[-2:] == ("y", "x"):
        a.setdefault("grid_mapping", "spatial_ref")
    v.setncatts(a)
    return v


def partial_corr_from_cubes(V, ridx, shape, valid, rows=128):
    """r(NEP, v | other two drivers) of the true series of region pixels, reading the cubes by row blocks.

    Pearson partial correlations from the inverse correlation matrix of (NEP, T, P, R), whose
    covariances come from sums of the shifted values d = v - v[first year] (NEP counted as 0 where
    missing; such pixels are not ``valid`` and get NaN). Memory is bounded by ``rows``.
    """
    ny, nx = shape
    out = {v: np.full(ridx.size, np.nan) for v in ("tmean", "prcp", "rad")}
    flat = np.zeros(ny * nx, bool)
    flat[ridx] = True
    pos = np.cumsum(flat) - 1                                  # grid cell -> region pixel index
    for r0 in range(0, ny, rows):
        r1 = min(r0 + rows, ny)
        cells = np.flatnonzero(flat[r0 * nx:r1 * nx])
        if cells.size == 0:
            continue
        cube = [np.asarray(V[name][:, r0:r1, :], dtype=np.float32).reshape(-1, (r1 - r0) * nx)[:, cells]
                for name in ("nep", "tmean", "prcp", "rad")]
        cube[0] = np.where(np.isfinite(cube[0]), cube[0], 0.0)
        ref = [c[0].astype(float) for c in cube]
        n = cube[0].shape[0]
        S1 = np.zeros((4, cells.size))
        S2 = np.zeros((4, 4, cells.size))
        for iy in range(n):
            d = [c[iy].astype(float) - r for c, r in zip(cube, ref)]
            for i in range(4):
                S1[i] += d[i]
                for j in range(i, 4):
                    S2[i, j] += d[i] * d[j]
        C = np.empty((cells.size, 4, 4))
        for i in range(4):
            for j in range(i, 4):
                C[:, i, j] = C[:, j, i] = S2[i, j] / n - (S1[i] / n) * (S1[j] / n)
        sd = np.sqrt(np.clip(np.einsum("nii->ni", C), 0, None))
        idx = pos[r0 * nx + cells]
        good = valid[idx] & np.all(sd > 1e-9, axis=1)
        if not good.any():
            continue
        Pm = np.linalg.pinv(C[good] / (sd[good, :, None] * sd[good, None, :]))
        for j, v in enumerate(out, start=1):
            out[v][idx[good]] = np.clip(-Pm[:, 0, j] / np.sqrt(Pm[:, 0, 0] * Pm[:, j, j]), -1, 1)
    return out
