"""The scenario's truth store ``truth.nc``: NetCDF layout and the realised partial correlations.

The store is written with netCDF4 directly, year by year into chunked (year, y, x) variables: at 500 m
each float32 cube is 2.5 GB (24 years x 4142 x 6357 cells) and xarray cannot write one year of an
existing NetCDF variable. The partial correlations are computed here, not
with :func:`nep_core.stats.partial_corr`, so that the truth is independent of the code it checks.
"""
from __future__ import annotations

import numpy as np

from nep_core.crs import CRS_ALBERS
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


def realised_from_cubes(V, ridx, shape, tc, rows=128):
    """Statistics of the realised true series of region pixels, reading the written cubes by row blocks.

    ``tmean``, ``prcp``, ``rad``: Pearson partial correlations r(NEP, v | other two drivers) from the
    inverse correlation matrix of (NEP, T, P, R), whose covariances come from sums of the shifted
    values d = v - v[first year]; NaN unless NEP is valid in every year. ``slope_ols``: OLS slope of
    NEP on the centred years ``tc`` over its valid years (NaN with fewer than 3); ``n_valid``: the
    number of valid years. Memory is bounded by ``rows`` (a year-by-year accumulation over the whole
    region held 2.5 GB of float64 sums at 500 m).
    """
    ny, nx = shape
    out = {v: np.full(ridx.size, np.nan) for v in ("tmean", "prcp", "rad", "slope_ols")}
    out["n_valid"] = np.zeros(ridx.size, np.int32)
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
        ok = np.isfinite(cube[0])
        cube[0] = np.where(ok, cube[0], 0.0)
        ref = [c[0].astype(float) for c in cube]
        n = cube[0].shape[0]
        S1 = np.zeros((4, cells.size))
        S2 = np.zeros((4, 4, cells.size))
        s_t, s_tt, s_y, s_ty = (np.zeros(cells.size) for _ in range(4))
        for iy in range(n):
            s_t += ok[iy] * tc[iy]
            s_tt += ok[iy] * tc[iy] * tc[iy]
            s_y += cube[0][iy]
            s_ty += cube[0][iy] * tc[iy]
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
        n_ok = ok.sum(axis=0)
        denom = n_ok * s_tt - s_t ** 2
        out["slope_ols"][idx] = np.where((n_ok >= 3) & (denom > 0),
                                         (n_ok * s_ty - s_t * s_y) / np.where(denom > 0, denom, 1), np.nan)
        out["n_valid"][idx] = n_ok
        good = (n_ok == n) & np.all(sd > 1e-9, axis=1)
        if not good.any():
            continue
        Pm = np.linalg.pinv(C[good] / (sd[good, :, None] * sd[good, None, :]))
        for j, v in enumerate(("tmean", "prcp", "rad"), start=1):
            out[v][idx[good]] = np.clip(-Pm[:, 0, j] / np.sqrt(Pm[:, 0, 0] * Pm[:, j, j]), -1, 1)
    return out
