"""Monte Carlo uncertainty of the headline numbers: the Rh constants and the climate interpolation error.

Draw ``i`` (generator ``default_rng(SeedSequence([seed, STREAM, i]))``) multiplies each Pei et al.
(2009) constant a, b, c by an independent ``1 + u``, ``u ~ U(+-rh_prior_pct %)`` (a stated prior: no
published standard errors), and adds to the monthly T (degC) and P (mm, clipped at 0) of every month
an independent Gaussian field: iid N(0, 1) nodes every ``error_spacing_m``, bilinear, rescaled to SD 1
at every pixel, times ``interp_error_scale`` x that month's LOO RMSE (``interpolation_cv``). On a
systematic sample of pixels (every ``k``-th row and column, ``k = round(sample_spacing_m /
resolution)``), with T and P re-evaluated by :func:`nep_core.climate.surfaces`, the draw's NEP is
``NEP - (Rh_i - Rh_0)`` (Rh by :func:`nep_core.carbon.annual_rh_sets`; a draw without perturbation
is the main run exactly) and each headline (:data:`HEADLINES`) is ``h_full + (h_i - h_0)``: median
and 5th / 95th percentiles over the draws. Equations: the methods chapter, sec-m-uncertainty.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

import dask
import numpy as np
import pandas as pd
import xarray as xr

from . import attribution, carbon, climate
from .carbon import per_pixel_maps
from .errors import NepInputError
from .vocab import NEP_UNITS, PROVINCES, REGION_NAME

#: the random stream of this Monte Carlo, mixed into the seed so its draws differ from other Monte Carlos
STREAM = 16
#: Table 1 codes counted as a significant increase (significant and extremely significant)
SIG_INCREASE = (8, 9)
PRIOR_NOTE = ("Rh constants a, b, c of Pei et al. (2009) each uniform within +-{w:g} % (stated prior: no "
              "published standard errors); T and P interpolation error: independent monthly spatially "
              "correlated Gaussian fields (node spacing {L:g} km, bilinear) with SD {s:g} x the monthly "
              "LOO RMSE")


# ------------------------------------------------------------------------------- headline numbers
@dataclass(frozen=True)
class Headline:
    """A headline number: ``compute(ds)`` returns ``{key: (quantity, 0-d value)}``.

    ``ds`` holds, over any spatial dims: ``nep_mean`` (g C m-2 a-1), ``trend_class`` (Table 1 code),
    ``cell_area`` (km2, 0 outside the region), ``province`` (code); and ``nep``, ``tmean``, ``prcp``,
    ``rad`` on ``year`` + the spatial dims (the draw's values); ``attr_class`` (the RESTREND
    scenario of ``nep_core.attribution``) except on the planted truth. Values may be lazy (dask).
    """

    units: str
    compute: Callable


def _mean_nep(ds):
    w = ds["cell_area"].astype(np.float64).where(np.isfinite(ds["nep_mean"]), 0.0)
    out = {"nwc_mean": (f"{REGION_NAME} mean NEP", (w * ds["nep_mean"].fillna(0)).sum() / w.sum())}
    for p in PROVINCES:
        wp = w.where(ds["province"] == p.code, 0.0)
        out[f"mean_{p.name}"] = (f"mean NEP {p.name}", (wp * ds["nep_mean"].fillna(0)).sum() / wp.sum())
    return out


def _area_share(ds, key, quantity, mask, valid):
    """Share (%) of the area where ``valid`` holds that has ``mask`` (as the study's share tables)."""
    w = ds["cell_area"].astype(np.float64).where(valid, 0.0)
    return {key: (quantity, w.where(mask, 0.0).sum() / w.sum() * 100)}


def _attribution_shares(ds):
    """Area shares of the human- and the climate-dominant RESTREND scenarios, of the area with one."""
    if "attr_class" not in ds:
        return {}
    cls = ds["attr_class"]
    rule = "RESTREND scenarios of nep_core.attribution, of the area with a scenario"
    out = {}
    for who, (c1, c2) in (("human", (3, 6)), ("climate", (2, 5))):
        out.update(_area_share(ds, f"attr_{who}_dominant", f"{who}-dominant share of the NEP trend ({rule}: "
                               f"{c1}, {c2})", cls.isin([c1, c2]), cls > 0))
    return out


#: The headline numbers. Adding one is one ``Headline(units, f)`` entry with ``f(ds)`` returning
#: ``{key: (quantity, 0-d value)}`` (see :class:`Headline`); its key then gets the interval columns of
#: ``study_vs_reproduction`` when ``data/study_reference.csv`` has the same key.
HEADLINES = (
    Headline(NEP_UNITS, _mean_nep),
    Headline("%", lambda ds: _area_share(ds, "sink_share", "carbon sink share (mean NEP > 0)",
                                         ds["nep_mean"] > 0, np.isfinite(ds["nep_mean"]))),
    Headline("%", lambda ds: _area_share(ds, "trend_sig_inc", "significant increase share (Table 1 classes "
                                         "8-9, of the area with a trend class)",
                                         ds["trend_class"].isin(SIG_INCREASE), ds["trend_class"] > 0)),
    Headline("%", _attribution_shares),
)


def headline_values(ds: xr.Dataset, headlines=HEADLINES) -> pd.DataFrame:
    """Every headline number of ``ds`` (see :class:`Headline`), computed in one dask pass.

    Returns a DataFrame indexed by ``key`` with ``quantity``, ``units`` and ``value``.
    """
    items = [(k, q, h.units, v) for h in headlines for k, (q, v) in h.compute(ds).items()]
    (vals,) = dask.compute([v for *_, v in items])
    return pd.DataFrame({"quantity": [q for _, q, _, _ in items], "units": [u for _, _, u, _ in items],
                         "value": [float(v) for v in vals]},
                        index=pd.Index([k for k, *_ in items], name="key"))


def map_dataset(nep_mean, trend_class, cell_area, province, region, annual=None,
                attr_class=None) -> xr.Dataset:
    """The headline Dataset of the full grid (``(y, x)`` maps; ``annual``: the lazy ``nep``,
    ``tmean``, ``prcp``, ``rad`` cubes, read only by headlines that use them). Values outside
    ``region`` are dropped (NaN mean, class 0, area 0)."""
    region = region.astype(bool)
    ds = xr.Dataset({"nep_mean": nep_mean.where(region), "trend_class": trend_class.where(region, 0),
                     "cell_area": cell_area.where(region, 0.0), "province": province})
    if attr_class is not None:
        ds["attr_class"] = attr_class.where(region, 0)
    return ds if annual is None else ds.merge(annual, compat="override")


def truth_values(truth: xr.Dataset, cell_area: xr.DataArray, st, headlines=HEADLINES) -> pd.DataFrame:
    """The headline numbers of the planted true NEP (synthetic scenario: ``truth.nc``), computed with
    the same per-pixel mean and trend test (:func:`per_pixel_maps`, settings ``st``) as the run."""
    nep = truth["nep"].chunk({"year": -1, "y": 256, "x": 256})
    maps = per_pixel_maps(nep, st)
    return headline_values(map_dataset(maps["nep_mean"], maps["trend_class"], cell_area, truth["province"],
                                       truth["region"]), headlines)


# ------------------------------------------------------------------------------------- the sample
@dataclass
class Sample:
    """The sampled pixels (``pixel`` dim) and what every draw starts from."""

    step: int                  # every step-th row and column of the grid
    gx: np.ndarray             # Albers m: the axes of the sampled sub-grid
    gy: np.ndarray
    iy: np.ndarray             # the sampled pixels (inside the region): indices into gy, gx
    ix: np.ndarray
    cell_area: np.ndarray      # km2
    province: np.ndarray
    nep: np.ndarray            # (pixel, year) float32, the main run's NEP
    rad: np.ndarray            # (pixel, year) float32, annual radiation of the main run
    tmon: np.ndarray           # (time, pixel) float32 monthly T (degC) re-evaluated on the sample
    pmon: np.ndarray           # (time, pixel) float32 monthly P (mm)
    time: np.ndarray           # datetime64 months
    years: np.ndarray
    rh0: np.ndarray            # (pixel, year) annual Rh of the point constants on tmon, pmon
    tmean0: np.ndarray         # (pixel, year) annual mean T of tmon
    prcp0: np.ndarray          # (pixel, year) annual P of pmon


def sample_step(resolution_m: float, spacing_m: float) -> int:
    """Rows / columns between sampled pixels: ``max(1, round(spacing_m / resolution_m))``."""
    return max(1, int(round(spacing_m / resolution_m)))


def _annual(tmon, pmon, time, params):
    t = xr.DataArray(tmon, dims=("time", "pixel"), coords={"time": time}, attrs={"units": "degC"})
    p = xr.DataArray(pmon, dims=("time", "pixel"), coords={"time": time}, attrs={"units": "mm"})
    (rh,), tm, pa = carbon.annual_rh_sets(t, p, [params], with_climate=True)
    return [np.ascontiguousarray(a.transpose("pixel", "year").values) for a in (rh, tm, pa)]


def make_sample(static: xr.Dataset, annual: xr.Dataset, stations: xr.Dataset, params, step: int,
                chunk_xy: int = 256) -> Sample:
    """Read the sampled pixels of the main run and re-evaluate the monthly T and P surfaces there.

    ``static``: ``region``, ``elevation``, ``cell_area``, ``province`` on ``(y, x)``; ``annual``:
    ``nep`` and ``rad`` on ``(year, y, x)``; ``stations``: the monthly station data the climate
    stage fitted (``tmean``, ``prcp`` on ``(station, time)``).
    """
    sl = {"y": slice(0, None, step), "x": slice(0, None, step)}
    sub = static[["region", "elevation", "cell_area", "province"]].isel(sl).load()
    inside = sub["region"].values.astype(bool)
    if not inside.any():
        raise NepInputError(f"no region pixel on the sample of every {step}-th row/column",
                            variable="uncertainty.sample_spacing_m")
    iy, ix = np.nonzero(inside)
    surf = climate.surfaces(stations, sub["x"].values, sub["y"].values,
                            sub["elevation"].where(sub["region"].astype(bool)).values, ["tmean", "prcp"],
                            chunks=chunk_xy)
    cubes = {v: annual[v].isel(sl).transpose("year", "y", "x").data for v in ("nep", "rad")}
    cubes.update({v: surf[v].transpose("time", "y", "x").data for v in ("tmean", "prcp")})
    (cubes,) = dask.compute(cubes)
    tmon = np.ascontiguousarray(cubes["tmean"][:, iy, ix], np.float32)
    pmon = np.ascontiguousarray(cubes["prcp"][:, iy, ix], np.float32)
    time = surf["time"].values
    rh0, tm0, pa0 = _annual(tmon, pmon, time, params)
    return Sample(step=step, gx=sub["x"].values, gy=sub["y"].values, iy=iy, ix=ix,
                  cell_area=sub["cell_area"].values[iy, ix].astype(np.float64),
                  province=sub["province"].values[iy, ix],
                  nep=np.ascontiguousarray(cubes["nep"][:, iy, ix].T, np.float32),
                  rad=np.ascontiguousarray(cubes["rad"][:, iy, ix].T, np.float32),
                  tmon=tmon, pmon=pmon, time=time, years=annual["year"].values, rh0=rh0,
                  tmean0=tm0, prcp0=pa0)


# ------------------------------------------------------------------------------------------ draws
def _bilinear(coord, spacing_m):
    """``(points, nodes)`` bilinear weights of nodes every ``spacing_m`` from ``coord.min()``, rows
    divided by their root sum of squares."""
    f = (np.asarray(coord, float) - np.min(coord)) / spacing_m
    i = np.floor(f).astype(int)
    w = np.zeros((f.size, int(i.max()) + 2))
    w[np.arange(f.size), i] = 1 - (f - i)
    w[np.arange(f.size), i + 1] = f - i
    return w / np.sqrt((w ** 2).sum(axis=1, keepdims=True))


def error_field(rng: np.random.Generator, x, y, n: int, spacing_m: float) -> np.ndarray:
    """``n`` spatially correlated standard normal fields (float32 ``(n, y, x)``) on the grid with axes
    ``y``, ``x`` (m), as the module docstring states; the bilinear interpolation is separable
    (``Wy @ nodes @ Wx.T``)."""
    wy, wx = _bilinear(y, spacing_m).astype(np.float32), _bilinear(x, spacing_m).astype(np.float32)
    nodes = rng.standard_normal((n, wy.shape[1], wx.shape[1]), dtype=np.float32)
    g = (nodes.reshape(-1, wx.shape[1]) @ wx.T).reshape(n, wy.shape[1], wx.shape[0])   # along x
    g = wy @ g.transpose(1, 0, 2).reshape(wy.shape[1], -1)                             # along y
    return g.reshape(wy.shape[0], n, wx.shape[0]).transpose(1, 0, 2)


def draw_rng(seed: int, i: int) -> np.random.Generator:
    """The generator of draw ``i``: ``default_rng(SeedSequence([seed, STREAM, i]))``."""
    return np.random.default_rng(np.random.SeedSequence([seed, STREAM, i]))


def draw_params(rng: np.random.Generator, params, prior_pct: float):
    """The Rh constants of one draw: each of ``a, b, c`` times ``1 + u``, ``u ~ U(-prior_pct, prior_pct)``
    percent, independent (the first three uniforms of ``rng``)."""
    u = rng.uniform(-prior_pct, prior_pct, 3) / 100
    return dataclasses.replace(params, a=params.a * (1 + u[0]), b=params.b * (1 + u[1]),
                               c=params.c * (1 + u[2]))


def _draw_ds(sample: Sample, nep, tmean, prcp, st) -> xr.Dataset:
    """The headline Dataset of a draw's ``(pixel, year)`` numpy NEP, T and P on the sample (eager; the
    per-pixel trend test runs through dask's synchronous scheduler, so its numba kernel uses this
    task's thread only)."""
    cubes = {"nep": nep, "tmean": tmean, "prcp": prcp, "rad": sample.rad}
    ds = xr.Dataset({v: xr.DataArray(a, dims=("pixel", "year"), coords={"year": sample.years})
                     for v, a in cubes.items()})
    ds = ds.merge(per_pixel_maps(ds["nep"].chunk(), st).compute(scheduler="sync"))
    ds["attr_class"] = attribution.attribution_of(ds, min_valid=st.min_valid)["attr_class"]
    ds["cell_area"] = ("pixel", sample.cell_area)
    ds["province"] = ("pixel", sample.province)
    return ds


def draw(sample: Sample, i: int, seed: int, params, st, prior_pct: float, sd_t: float, sd_p: float,
         spacing_m: float, headlines) -> np.ndarray:
    """One dask task: draw ``i`` (its Rh constants, then its T and P error fields) and its headline
    values on the sample, in the order of :func:`headline_values`. The constants are the first use
    of the draw's generator: ``draw_params(draw_rng(seed, i), params, prior_pct)``.
    """
    rng = draw_rng(seed, i)
    q = draw_params(rng, params, prior_pct)
    nt, iy, ix = sample.time.size, sample.iy, sample.ix
    tmon, pmon = sample.tmon, sample.pmon
    if sd_t > 0:
        tmon = tmon + np.float32(sd_t) * error_field(rng, sample.gx, sample.gy, nt, spacing_m)[:, iy, ix]
    if sd_p > 0:
        e = np.float32(sd_p) * error_field(rng, sample.gx, sample.gy, nt, spacing_m)[:, iy, ix]
        pmon = np.maximum(pmon + e, np.float32(0))
    if q == params and tmon is sample.tmon and pmon is sample.pmon:
        rh, tm, pa = sample.rh0, sample.tmean0, sample.prcp0
    else:
        rh, tm, pa = _annual(tmon, pmon, sample.time, q)
    ds = _draw_ds(sample, sample.nep - (rh - sample.rh0), tm, pa, st)
    return headline_values(ds, headlines)["value"].to_numpy()


def monte_carlo(sample: Sample, point: pd.DataFrame, cfg, sd_t: float, sd_p: float,
                headlines=HEADLINES) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run ``cfg.uncertainty.draws`` draws, one dask task each, with the active dask scheduler.

    ``point``: :func:`headline_values` of the main run on the full grid (the point estimates);
    ``sd_t``, ``sd_p``: SD of the monthly T (degC) and P (mm) error fields (``interp_error_scale`` x
    LOO RMSE). Returns (headlines table, draws table): the headlines with ``point estimate``,
    ``sample point estimate``, ``median``, ``p05``, ``p95`` (5th / 95th percentiles: the 90 %
    interval), ``n_draws``, ``prior`` and ``sampling``; the draws long (``draw``, ``key``, ``value`` =
    point + sampled change, and the draw's ``a``, ``b``, ``c``).
    """
    u = cfg.uncertainty
    base = headline_values(_draw_ds(sample, sample.nep, sample.tmean0, sample.prcp0, cfg.stats), headlines)
    keep = base.index.isin(point.index)     # a headline the point estimates lack (no attr_class) drops
    base = base[keep]
    keys = list(base.index)
    s = dask.delayed(sample, pure=True, traverse=False)
    args = (cfg.seed, cfg.rh, cfg.stats, u.rh_prior_pct, sd_t, sd_p, u.error_spacing_m, headlines)
    tasks = [dask.delayed(draw, pure=True)(s, i, *args) for i in range(u.draws)]
    vals = np.array(dask.compute(*tasks), float).reshape(u.draws, keep.size)[:, keep]
    pt = point.loc[keys]
    value = pt["value"].to_numpy() + (vals - base["value"].to_numpy())
    params = [draw_params(draw_rng(cfg.seed, i), cfg.rh, u.rh_prior_pct) for i in range(u.draws)]
    draws = pd.DataFrame([{"draw": i, "key": k, "value": value[i, j], "a": q.a, "b": q.b, "c": q.c}
                          for i, q in enumerate(params) for j, k in enumerate(keys)],
                         columns=["draw", "key", "value", "a", "b", "c"])
    prior = PRIOR_NOTE.format(w=u.rh_prior_pct, L=u.error_spacing_m / 1000, s=u.interp_error_scale)
    q = np.percentile(value, [50, 5, 95], axis=0) if u.draws else np.full((3, len(keys)), np.nan)
    table = pd.DataFrame({"key": keys, "quantity": pt["quantity"].to_numpy(), "unit": pt["units"].to_numpy(),
                          "point estimate": pt["value"].to_numpy(),
                          "sample point estimate": base["value"].to_numpy(),
                          "median": q[0], "p05": q[1], "p95": q[2], "n_draws": u.draws, "prior": prior,
                          "sampling": f"one pixel in {sample.step} x {sample.step} "
                                      f"({sample.nep.shape[0]} pixels)"})
    return table, draws
