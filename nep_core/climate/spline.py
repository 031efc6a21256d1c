"""Partial thin-plate-spline surfaces of station fields on the analysis grid, with leave-one-out CV.

The partial thin-plate spline (open analogue of ANUSPLIN): v_i = f(x_i, y_i) + beta * z_i + e_i with
f a 2-D thin-plate spline (kernel phi(r) = r^2 log r, null space 1, x, y) and z the elevation. The
penalised least-squares solution (Wahba 1990, ch. 9) is the linear system::

    [K + lam I   P] [w]   [v]
    [P^T         0] [c] = [0],   P = [1, x, y, z]   (n x 4)

so beta = c_z and the spline are solved jointly (no backfitting). With P = [Q1 Q2] R and
Q2^T K Q2 = U diag(e) U^T the fit for every candidate lam comes at once, with the exact leave-one-out
residuals e_i / (1 - A_ii) (Wahba 1990, th. 4.2.1). ``smoothing="loocv"`` picks per time step the
candidate with the smallest mean squared LOO residual among lam = mean(e) * 10**linspace(-8, 2, 41)
(the upper end is close to the OLS plane 1 + x + y + z); ``"gcv"`` uses generalised CV; a float
fixes lam. Coordinates are scaled as (x - min) / L, L the larger station extent, so lam is the
``smoothing`` of ``scipy.interpolate.RBFInterpolator(kernel="thin_plate_spline", degree=1)`` on
them. The reported LOO RMSE is at the selected lam (selection not nested: slightly optimistic).

Evaluation on the grid: f is evaluated on a coarse lattice (every ``coarse_factor``-th row/column,
last row/column always included; default spacing ``DEFAULT_COARSE_SPACING_M`` = 10 km) and resampled
bilinearly to the full grid (its error: chapters/02-data.qmd, Climate surfaces); beta * elevation
is added at full resolution. The output is a dask array with time in ONE chunk and space in
``chunks`` x ``chunks`` blocks; the fits and the coarse field are computed eagerly once.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import NepInputError
from ..vocab import check_units
from ._common import OUT_UNITS, check_station_ds, fmt_time, station_xy, time_dim, variables_of

_LONG_NAMES = {"tmean": "mean air temperature", "prcp": "precipitation total",
               "rad": "global solar radiation total"}

DEFAULT_COARSE_SPACING_M = 10000.0
N_SMOOTHING_CANDIDATES = 41


def _tps(r2):
    """Thin-plate kernel phi = r^2 log r from squared distances (phi(0) = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 0.5 * r2 * np.log(r2)
    out[r2 == 0] = 0.0
    return out


def _sqdist(ax, ay, bx, by):
    return (ax[:, None] - bx[None, :]) ** 2 + (ay[:, None] - by[None, :]) ** 2


@dataclass(frozen=True)
class SplineFit:
    """Fitted partial thin-plate spline(s) v = f(x, y) + beta * elevation at one station set.

    Scaled coordinates ``xs = (x - x0) / length`` (m), elevation column ``(z - z0) / zscale``; ``w``
    (n, T) kernel weights, ``coef`` (4, T) null-space coefficients on ``[1, xs, ys, zs]``,
    ``smoothing`` (T,) the chosen lambda, ``loo_residuals`` (n, T) exact leave-one-out residuals
    (observation - LOO prediction), ``dof`` (T,) trace(A); ``single``: 1-D values, 1-D predictions.
    """

    x0: float
    y0: float
    length: float
    z0: float
    zscale: float
    xs: np.ndarray
    ys: np.ndarray
    w: np.ndarray
    coef: np.ndarray
    smoothing: np.ndarray
    loo_residuals: np.ndarray
    dof: np.ndarray
    single: bool = False

    @property
    def elevation_coef(self):
        """Elevation coefficient beta per field, value units per metre."""
        b = self.coef[3] / self.zscale
        return b[0] if self.single else b

    @property
    def loo_rmse(self):
        """Leave-one-out RMSE per field."""
        r = np.sqrt(np.mean(self.loo_residuals ** 2, axis=0))
        return r[0] if self.single else r

    @property
    def loo_bias(self):
        """Mean of (LOO prediction - observation)."""
        b = -np.mean(self.loo_residuals, axis=0)
        return b[0] if self.single else b

    def predict_xy(self, x, y, batch: int = 65536):
        """The (x, y) part f (kernel sum + 1, x, y terms) at points; shape (npts, T) or (npts,)."""
        xs = (np.ravel(np.asarray(x, float)) - self.x0) / self.length
        ys = (np.ravel(np.asarray(y, float)) - self.y0) / self.length
        out = np.empty((xs.size, self.w.shape[1]))
        for i in range(0, xs.size, batch):
            sl = slice(i, i + batch)
            K = _tps(_sqdist(xs[sl], ys[sl], self.xs, self.ys))
            out[sl] = (K @ self.w + self.coef[0] + np.outer(xs[sl], self.coef[1])
                       + np.outer(ys[sl], self.coef[2]))
        return out[:, 0] if self.single else out

    def predict(self, x, y, elevation):
        """Full prediction f(x, y) + beta * elevation at points."""
        zs = (np.ravel(np.asarray(elevation, float)) - self.z0) / self.zscale
        f = self.predict_xy(x, y)
        if self.single:
            return f + self.coef[3, 0] * zs
        return f + np.outer(zs, self.coef[3])


def fit_surface(x, y, elevation, values, smoothing="loocv") -> SplineFit:
    """Fit partial thin-plate spline(s) in (x, y) with a linear elevation term.

    ``x``, ``y`` station coordinates (m, China Albers), ``elevation`` (m), ``values`` (n,) or (n, T)
    finite fields at the same stations. ``smoothing``: ``"loocv"`` (exact leave-one-out) or ``"gcv"``
    over 41 log-spaced candidates per field (module docstring), or a fixed lambda.
    """
    x, y, z = (np.asarray(a, float).ravel() for a in (x, y, elevation))
    V = np.asarray(values, float)
    single = V.ndim == 1
    V = V.reshape(V.shape[0], -1)
    n = x.size
    if not (y.size == z.size == V.shape[0] == n):
        raise NepInputError("x, y, elevation and values must have the same number of stations")
    if n < 10:
        raise NepInputError(f"thin-plate spline needs at least 10 stations, got {n}", variable="station")
    if not (np.all(np.isfinite(V)) and np.all(np.isfinite(np.column_stack([x, y, z])))):
        raise NepInputError("non-finite station values or coordinates passed to the spline")
    x0, y0 = x.min(), y.min()
    length = max(np.ptp(x), np.ptp(y))
    if length <= 0:
        raise NepInputError("stations have no spatial extent", variable="station")
    z0 = z.mean()
    zscale = z.std() if z.std() > 0 else 1.0
    xs, ys, zs = (x - x0) / length, (y - y0) / length, (z - z0) / zscale
    P = np.column_stack([np.ones(n), xs, ys, zs])
    Q, R = np.linalg.qr(P, mode="complete")
    if np.min(np.abs(np.diag(R[:4]))) < 1e-10 * np.max(np.abs(np.diag(R[:4]))):
        raise NepInputError("station coordinates/elevation are collinear; the spline's linear part "
                            "(1, x, y, elevation) is not identifiable", variable="elevation")
    Q1, Q2, R1 = Q[:, :4], Q[:, 4:], R[:4]
    K = _tps(_sqdist(xs, ys, xs, ys))
    e, U = np.linalg.eigh(Q2.T @ K @ Q2)
    e = np.maximum(e, 0.0)
    G = Q2 @ U                                              # (n, m)
    C = G.T @ V                                             # (m, T)
    if isinstance(smoothing, str):
        if smoothing not in ("loocv", "gcv"):
            raise NepInputError(f"smoothing must be 'loocv', 'gcv' or a number, got {smoothing!r}",
                                variable="smoothing")
        lams = e.mean() * 10.0 ** np.linspace(-8, 2, N_SMOOTHING_CANDIDATES)
        fac = lams[:, None] / (e[None, :] + lams[:, None])  # (L, m)
        h = (G ** 2) @ fac.T                                # (n, L): diag(I - A)
        r = np.einsum("nm,lm,mt->lnt", G, fac, C)           # residuals v - fit  (L, n, T)
        if smoothing == "loocv":
            score = np.mean((r / h.T[:, :, None]) ** 2, axis=1)
        else:
            score = n * np.sum(r ** 2, axis=1) / (np.sum(h, axis=0)[:, None] ** 2)
        best = np.argmin(score, axis=0)                     # first minimum: deterministic
        lam = lams[best]
    else:
        lam = np.full(V.shape[1], float(smoothing))
        if not lam[0] >= 0:
            raise NepInputError("smoothing must be >= 0", variable="smoothing")
    w = G @ (C / (e[:, None] + lam[None, :]))               # (n, T)
    coef = np.linalg.solve(R1, Q1.T @ (V - K @ w - lam[None, :] * w))
    hdiag = (G ** 2) @ (lam[None, :] / (e[:, None] + lam[None, :]))  # (n, T)
    resid = lam[None, :] * w
    with np.errstate(divide="ignore", invalid="ignore"):
        loo = np.where(hdiag > 0, resid / hdiag, 0.0)
    return SplineFit(x0=x0, y0=y0, length=length, z0=z0, zscale=zscale, xs=xs, ys=ys, w=w,
                     coef=coef, smoothing=lam, loo_residuals=loo, dof=n - hdiag.sum(axis=0),
                     single=single)


def _fit_fields(station_ds, var, smoothing):
    """(time indices, SplineFit, station mask) per station-availability pattern of ``var``."""
    tdim = time_dim(station_ds)
    x, y, z = station_xy(station_ds)
    V = np.asarray(station_ds[var].transpose("station", tdim).values, float)
    patterns, inv = np.unique(np.isfinite(V).T, axis=0, return_inverse=True)
    fits = []
    times = station_ds[tdim].values
    for p, mask in enumerate(patterns):
        idx = np.flatnonzero(inv.ravel() == p)
        if mask.sum() < 10:
            raise NepInputError(f"only {int(mask.sum())} stations with data at "
                                f"{fmt_time(times[idx[0]])}; the spline needs at least 10",
                                variable=var)
        fit = fit_surface(x[mask], y[mask], z[mask], V[np.ix_(mask, idx)], smoothing)
        fits.append((idx, fit, mask))
    return fits


def cv_scores(station_ds: xr.Dataset, variables=None, smoothing="loocv") -> pd.DataFrame:
    """Leave-one-out cross-validation of the partial thin-plate spline, one row per variable.

    ``loo_rmse`` is pooled over stations and time steps, ``loo_bias`` = mean(LOO prediction -
    observation), ``loo_rmse_min``/``_max`` over time steps, ``elev_coef_median`` in units per m.
    """
    variables = variables_of(station_ds, variables)
    check_station_ds(station_ds, variables)
    tdim = time_dim(station_ds)
    rows = []
    for var in variables:
        fits = _fit_fields(station_ds, var, smoothing)
        res = np.concatenate([f.loo_residuals.ravel() for _, f, _ in fits])
        per_t = np.concatenate([f.loo_rmse for _, f, _ in fits])
        rows.append({
            "variable": var, "units": station_ds[var].attrs.get("units"),
            "n_stations": station_ds.sizes["station"], "n_steps": station_ds.sizes[tdim],
            "loo_rmse": float(np.sqrt(np.mean(res ** 2))), "loo_bias": float(-np.mean(res)),
            "loo_rmse_min": float(per_t.min()), "loo_rmse_max": float(per_t.max()),
            "smoothing_median": float(np.median(np.concatenate([f.smoothing for _, f, _ in fits]))),
            "dof_median": float(np.median(np.concatenate([f.dof for _, f, _ in fits]))),
            "elev_coef_median": float(np.median(np.concatenate([f.elevation_coef for _, f, _ in fits]))),
        })
    return pd.DataFrame(rows).set_index("variable")


def _bilinear_weights(n, cidx):
    """(n, len(cidx)) matrix interpolating linearly in index space from nodes cidx (>= 2) to 0..n-1."""
    pos = np.interp(np.arange(n), cidx, np.arange(cidx.size))
    i0 = np.clip(np.floor(pos).astype(int), 0, cidx.size - 2)
    frac = pos - i0
    W = np.zeros((n, cidx.size))
    rows = np.arange(n)
    W[rows, i0] += 1.0 - frac
    W[rows, i0 + 1] += frac
    return W


def _block(elev, coarse, beta, wy, wx, clip0):
    """One block: ``wy @ coarse[t] @ wx.T + beta * elevation`` as two float32 GEMMs -> (T, by, bx)."""
    dt = np.float32
    nt, cy, cx = coarse.shape
    by, bx = wy.shape[0], wx.shape[0]
    if not np.isfinite(elev).any():        # wholly outside the region (NaN elevation): NaN, not computed
        return np.full((nt, by, bx), np.nan, dt)
    m = (coarse.reshape(nt * cy, cx).astype(dt) @ wx.T.astype(dt)).reshape(nt, cy, bx)
    m = np.ascontiguousarray(m.transpose(1, 0, 2)).reshape(cy, nt * bx)
    out = np.ascontiguousarray((wy.astype(dt) @ m).reshape(by, nt, bx).transpose(1, 0, 2))
    out += beta.astype(dt)[:, None, None] * np.asarray(elev, dt)[None, :, :]
    if clip0:
        np.maximum(out, 0.0, out=out)
    return out


def default_coarse_factor(grid_x) -> int:
    """Coarse factor giving a lattice spacing of about ``DEFAULT_COARSE_SPACING_M``."""
    res = abs(float(np.diff(np.asarray(grid_x, float)[:2])[0]))
    return max(1, int(round(DEFAULT_COARSE_SPACING_M / res)))


def surfaces(station_ds: xr.Dataset, grid_x, grid_y, elevation, variables=None, *,
             coarse_factor: int | None = None, chunks: int | tuple | None = None,
             smoothing="loocv") -> xr.Dataset:
    """Partial thin-plate-spline surfaces of station fields on the analysis grid, lazily.

    ``station_ds``: gap-free fields on ``(station, time)`` (monthly) or ``(station, year)``;
    ``grid_x``, ``grid_y``: 1-D cell centres (Albers m); ``elevation``: DEM (y, x) in m, numpy or
    dask, NaN gives NaN; ``coarse_factor``: lattice step of the (x, y) part (default
    :func:`default_coarse_factor`, 1 = exact); ``chunks``: spatial block edge(s), default 256.
    Returns ``<var>`` float32 dask arrays on ``(time|year, y, x)`` (units and method in attrs;
    precipitation and radiation clipped at 0) and per-step ``<var>_smoothing``, ``<var>_elev_coef``
    (units per m), ``<var>_loo_rmse``.
    """
    import dask
    import dask.array as da

    variables = variables_of(station_ds, variables)
    tdim = time_dim(station_ds)
    step = check_station_ds(station_ds, variables)
    gx, gy = (np.asarray(g, float) for g in (grid_x, grid_y))
    if gx.ndim != 1 or gy.ndim != 1 or gx.size < 2 or gy.size < 2:
        raise NepInputError("grid_x and grid_y must be 1-D cell-centre coordinates (>= 2 each)")
    for name, g in (("grid_x", gx), ("grid_y", gy)):
        d = np.diff(g)
        if not np.allclose(d, d[0], rtol=1e-6) or d[0] == 0:
            raise NepInputError("grid coordinates must be regularly spaced", variable=name)
    elev = elevation
    if isinstance(elev, xr.DataArray):
        check_units(elev, "elevation", variable="elevation")
        elev = elev.transpose("y", "x").data
    if tuple(np.shape(elev)) != (gy.size, gx.size):
        raise NepInputError(f"elevation shape {np.shape(elev)} != (len(grid_y), len(grid_x)) = "
                            f"{(gy.size, gx.size)}", variable="elevation")
    f = int(coarse_factor) if coarse_factor is not None else default_coarse_factor(gx)
    if f < 1:
        raise NepInputError("coarse_factor must be >= 1", variable="coarse_factor")
    cy_edge, cx_edge = (chunks, chunks) if isinstance(chunks, int) or chunks is None else chunks
    cy_edge, cx_edge = cy_edge or 256, cx_edge or 256
    elev_d = elev if isinstance(elev, da.Array) else da.from_array(np.asarray(elev, float),
                                                                   chunks=(cy_edge, cx_edge))
    elev_d = elev_d.astype(float).rechunk((cy_edge, cx_edge))
    # every f-th row/column plus the last one
    iy, ix = (np.unique(np.append(np.arange(0, m, f), m - 1)) for m in (gy.size, gx.size))
    WY, WX = _bilinear_weights(gy.size, iy), _bilinear_weights(gx.size, ix)
    cyy, cxx = np.meshgrid(gy[iy], gx[ix], indexing="ij")
    nt = station_ds.sizes[tdim]
    ystarts = np.cumsum((0,) + elev_d.chunks[0])
    xstarts = np.cumsum((0,) + elev_d.chunks[1])
    out = xr.Dataset(coords={tdim: station_ds[tdim], **{
        d: (d, g, {"units": "m", "standard_name": f"projection_{d}_coordinate"})
        for d, g in (("y", gy), ("x", gx))}})
    for var in variables:
        coarse = np.empty((nt, iy.size, ix.size))
        beta, lam, rmse, bias = (np.empty(nt) for _ in range(4))
        for idx, fit, _ in _fit_fields(station_ds, var, smoothing):
            sm = fit.predict_xy(cxx, cyy).reshape(iy.size, ix.size, idx.size)
            coarse[idx] = np.moveaxis(sm, -1, 0)
            beta[idx] = fit.elevation_coef
            # the elevation column is (z - z0) / zscale: fold the -z0 offset into the smooth part
            coarse[idx] -= (fit.elevation_coef * fit.z0)[:, None, None]
            lam[idx] = fit.smoothing
            rmse[idx] = fit.loo_rmse
            bias[idx] = fit.loo_bias
        coarse_d = dask.delayed(coarse, pure=True)
        beta_d = dask.delayed(beta, pure=True)
        clip0 = var in ("prcp", "rad")
        blocks = []                  # one task per block, built by hand: see ARCHITECTURE.md, Rules
        for bi in range(len(elev_d.chunks[0])):
            row = []
            for bj in range(len(elev_d.chunks[1])):
                ys_ = slice(ystarts[bi], ystarts[bi + 1])
                xs_ = slice(xstarts[bj], xstarts[bj + 1])
                wy, wx = WY[ys_], WX[xs_]
                ny_nz = np.flatnonzero(wy.any(axis=0))
                nx_nz = np.flatnonzero(wx.any(axis=0))
                sub = coarse_d[:, ny_nz[0]:ny_nz[-1] + 1, nx_nz[0]:nx_nz[-1] + 1]
                task = dask.delayed(_block, pure=True)(
                    elev_d.blocks[bi, bj], sub, beta_d,
                    wy[:, ny_nz[0]:ny_nz[-1] + 1], wx[:, nx_nz[0]:nx_nz[-1] + 1], clip0)
                row.append(da.from_delayed(task, shape=(nt, ys_.stop - ys_.start, xs_.stop - xs_.start),
                                           dtype=np.float32))
            blocks.append(row)
        arr = da.block(blocks)
        units = OUT_UNITS["annual" if step == "annual" else "monthly"][var]
        out[var] = ((tdim, "y", "x"), arr, {
            "units": units,
            "long_name": f"{'annual' if step == 'annual' else 'monthly'} {_LONG_NAMES[var]}",
            "description": (
                "partial thin-plate spline (open analogue of ANUSPLIN): 2-D thin-plate spline in "
                "Albers (x, y) with linear null space plus a linear elevation term solved jointly "
                "(elevation column in the null space, Wahba 1990); smoothing per time step by "
                f"{'exact leave-one-out CV' if smoothing == 'loocv' else smoothing} over "
                f"{N_SMOOTHING_CANDIDATES} log-spaced candidates; (x, y) part evaluated every "
                f"{f} cells and resampled bilinearly, elevation term at full resolution"
                + ("; clipped at 0" if clip0 else "")),
            "smoothing_median": float(np.median(lam)), "loo_rmse": float(np.sqrt(np.mean(rmse ** 2))),
            "loo_bias": float(np.mean(bias)), "coarse_factor": f,
            "elevation_coef_median_per_m": float(np.median(beta)), "n_stations": station_ds.sizes["station"],
        })
        out[f"{var}_smoothing"] = ((tdim,), lam, {"long_name": f"chosen smoothing of {var}", "units": "1"})
        out[f"{var}_elev_coef"] = ((tdim,), beta, {"long_name": f"elevation coefficient of {var}",
                                                   "units": f"{units} m-1"})
        out[f"{var}_loo_rmse"] = ((tdim,), rmse, {"long_name": f"leave-one-out RMSE of {var}",
                                                  "units": units})
    return out
