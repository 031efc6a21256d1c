"""The stage table: what each stage reads, what its cache key depends on, and the function it runs.

A stage function takes ``(cfg, inputs, a)``, ``a`` the artefacts of the stages it needs by name, and
returns an :class:`~nep_core.pipeline.cache.Artefact`. The functions here are thin: they read inputs through
``nep_core.io``, call the science in ``grid``, ``climate``, ``carbon``, ``stats`` and ``classify``, and
name the results; they compute nothing themselves.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from .. import attribution, carbon, classify, climate, grid, reasons, stats, uncertainty
from .. import io as nio
from ..config import Config
from ..stats._common import resolve_min_valid
from ..vocab import DRIVERS
from ..store import dask_view
from .cache import Artefact

#: bump when a stage's computation changes, so old caches are not reused
PIPELINE_VERSION = "4"
#: the statistics stage maps dask blocks of STATS_BLOCK x STATS_BLOCK stored chunks (a quarter of
#: the tasks of one chunk per block: the scheduler's per-task cost was a tenth of the stage at 500 m)
STATS_BLOCK = 2


@dataclass(frozen=True)
class Stage:
    """One row of the stage table."""

    name: str                      # cache name (``<out>/.stages/<name>-<key>/``)
    label: str                     # timing label
    needs: tuple = ()              # stages whose artefacts the function receives, by name
    files: tuple = ()              # ``Config.inputs`` fields whose file content enters the key
    params: Callable = lambda cfg: None   # the part of the config the result depends on
    compute: Callable = None       # (cfg, inputs, {needed stage: Artefact}) -> Artefact


def chunks(cfg: Config, scale: int = 1) -> dict:
    """Space chunked by ``chunk_xy`` (times ``scale``), time never."""
    return {"y": cfg.chunk_xy * scale, "x": cfg.chunk_xy * scale, "year": -1, "lc_year": -1, "time": -1}


def _for(ds, c: dict) -> dict:
    return {d: n for d, n in c.items() if d in ds.dims}


def _annual(a) -> xr.Dataset:
    """The annual NEP and climate-driver cubes, as stored (``chunk_xy`` in space, whole in time)."""
    return xr.Dataset({"nep": a["carbon"].ds["nep"], **{v: a["climate"].ds[v] for v in DRIVERS}})


def grid_of(static: xr.Dataset) -> xr.Dataset:
    """The analysis grid (with CRS) from the static stage."""
    g = static[["province", "region", "cell_area", "lon", "lat"]].load()
    g["region"] = g["region"].astype(bool)
    return g.rio.write_crs(grid.CRS_ALBERS).rio.write_transform(grid.grid_transform(g))


# ------------------------------------------------------------------------------------- the stages
def _static(cfg, inputs, a):
    g = grid.make_grid(cfg.resolution_m, inputs.boundaries)
    ds = g.drop_vars("spatial_ref", errors="ignore")
    ds["region"] = ds["region"].astype(np.int8).assign_attrs(ds["region"].attrs, units="1")
    ds["cell_area"] = xr.DataArray(np.array(g["cell_area"].values), dims=("y", "x"), attrs=g["cell_area"].attrs)
    dem = nio.read_dem(inputs.dem, g, check_ranges=cfg.checks.plausible_ranges)
    ds["elevation"] = dem.assign_attrs(units="m", long_name="elevation (DEM, bilinear to the grid)")
    return Artefact(ds=ds)


def _climate(cfg, inputs, a):
    """Station QC/fill -> surfaces -> annual tmean, prcp, rad and Rh (and the Rh of the sensitivity sets)."""
    static = a["static"].ds.load()
    ck = cfg.checks
    st = nio.read_stations(inputs.stations, inputs.station_layout, grid_of(static),
                           max_distance_km=ck.station_max_km, check_ranges=ck.plausible_ranges)
    region = static["region"].astype(bool)
    # elevation NaN outside the region: blocks wholly outside it are not computed
    cr = climate.prepare_climate(st, static["x"].values, static["y"].values,
                                 static["elevation"].astype(np.float32).where(region), cfg)
    variants = carbon.rh_variant_sets(cfg.rh)
    rhs, tm, pa = carbon.annual_rh_sets(cr.monthly["tmean"], cr.monthly["prcp"], [cfg.rh, *variants.values()],
                                        with_climate=True)
    out = xr.Dataset()
    for v, da in (("tmean", tm), ("prcp", pa), ("rad", cr.annual["rad"])):
        out[v] = da.transpose("year", "y", "x").astype(np.float32).where(region).assign_attrs(cr.annual[v].attrs)
    long_names = {"rh": "soil heterotrophic respiration (monthly Pei et al. 2009, summed)"}
    long_names.update({n: f"Rh with {n[3]} changed by {'-' if n[5] == 'm' else '+'}{n[6:]} %" for n in variants})
    for (name, long_name), rh in zip(long_names.items(), rhs):
        out[name] = rh.transpose("year", "y", "x").where(region).assign_attrs(rh.attrs, long_name=long_name)
    out = out.chunk(_for(out, chunks(cfg)))
    out.attrs["stations_used"] = int(cr.annual_stations.sizes["station"])
    ms = cr.monthly_stations
    keep = [v for v in ms.data_vars if set(ms[v].dims) == {"station", "time"}]
    tables = {"qc_summary": cr.qc.reset_index(),
              "interpolation_cv": cr.cv.reset_index() if cr.cv.index.name else cr.cv}
    dropped = json.loads(st.attrs["stations_dropped"])
    if dropped:     # stations farther than checks.station_max_km: listed, never used
        tables["stations_dropped"] = pd.DataFrame(dropped)
    return Artefact(ds=out, side={"stations": ms[keep]}, tables=tables)


def _carbon(cfg, inputs, a):
    static = a["static"].ds.load()
    g = grid_of(static)
    min_valid, _ = resolve_min_valid(cfg.stats.min_valid, len(cfg.years), 1, "NPP")
    npp = nio.read_npp(inputs.npp, g, cfg.years, check_ranges=cfg.checks.plausible_ranges,
                       min_valid=min_valid)
    lc = nio.read_landcover(inputs.landcover, g, [y for y in cfg.years if y <= 2022])
    # the readers' numpy cubes enter the graph as lazily sliced views: no whole-cube copies
    out = xr.Dataset()
    for name, v in (("npp", npp["npp"]), ("npp_reason", npp["npp_reason"]), ("landcover", lc)):
        c = chunks(cfg)
        out[name] = v.copy(data=dask_view(v.values, [c[d] for d in v.dims]))
    rh = a["climate"].ds["rh"]
    n = carbon.nep(out["npp"], rh)
    out["nep"] = n.astype(np.float32).assign_attrs(n.attrs)
    out["rh"] = rh
    out["npp_reason"] = xr.where(static["region"].astype(bool), out["npp_reason"],
                                 np.int8(reasons.OUTSIDE_REGION)).astype(np.int8).assign_attrs(out["npp_reason"].attrs)
    return Artefact(ds=out.chunk(_for(out, chunks(cfg))))


def _stats(cfg, inputs, a):
    """Per-pixel statistics in dask blocks of STATS_BLOCK x STATS_BLOCK stored chunks."""
    annual = _annual(a)
    return Artefact(ds=stats.per_pixel_statistics(annual.chunk(_for(annual, chunks(cfg, STATS_BLOCK))),
                                                  cfg.stats))


def _hurst_null(cfg, inputs, a):
    return Artefact(tables={"hurst_null": stats.hurst_null_table(len(cfg.years), cfg.stats, cfg.seed)})


def _classes(cfg, inputs, a):
    out = classify.classify_statistics(a["stats"].ds, a["hurst_null"].tables["hurst_null"], cfg.stats,
                                       seed=cfg.seed)
    p = a["climate"].ds["prcp"].mean("year").where(a["static"].ds["region"].astype(bool)).load()
    out["drywet"] = grid.drywet_zones(p.assign_attrs(units="mm a-1")).astype(np.int8).assign_attrs(
        long_name="dry/wet zone (200/400/800 mm isohyets of interpolated mean annual precipitation)",
        units="1", flag_values=np.arange(1, 5, dtype=np.int8), flag_meanings="arid semi_arid semi_humid humid")
    return Artefact(ds=out)


def _rh_sensitivity(cfg, inputs, a):
    region = a["static"].ds["region"].astype(bool)
    base = xr.Dataset({"nep_mean": a["stats"].ds["nep_mean"], "trend_slope": a["stats"].ds["trend_slope"],
                       "trend_class": a["classes"].ds["trend_class"]}).where(region)
    variants = {n: a["climate"].ds[n] for n in carbon.rh_variant_sets(cfg.rh)}
    table = carbon.rh_sensitivity(a["carbon"].ds["nep"], a["carbon"].ds["rh"], variants, base,
                                  a["static"].ds["cell_area"].where(region), cfg.rh, cfg.stats)
    return Artefact(tables={"rh_sensitivity": table})


def _attribution(cfg, inputs, a):
    """RESTREND split of the NEP trend (``attr_*``) and its year-controlled variant (``attr_time_*``)."""
    annual = _annual(a)
    out = attribution.attribution_of(annual, "restrend", cfg.stats.min_valid)
    alt = attribution.attribution_of(annual, "restrend_time", cfg.stats.min_valid, prefix="attr_time_")
    keep = [f"attr_time_{v}" for v in ("slope_climate", "slope_human", "share_human", "class")]
    return Artefact(ds=out.assign({k: alt[k] for k in keep}))


def _uncertainty(cfg, inputs, a):
    """Monte Carlo of the headline numbers over the Rh constants and the T / P interpolation error."""
    static, u = a["static"].ds, cfg.uncertainty
    region = static["region"].astype(bool)
    annual = _annual(a)
    point = uncertainty.headline_values(uncertainty.map_dataset(
        a["stats"].ds["nep_mean"], a["classes"].ds["trend_class"], static["cell_area"], static["province"],
        region, annual, a["attribution"].ds["attr_class"]))
    step = uncertainty.sample_step(cfg.resolution_m, u.sample_spacing_m)
    sample = uncertainty.make_sample(static, annual, a["climate"].side["stations"], cfg.rh, step, cfg.chunk_xy)
    cv = a["climate"].tables["interpolation_cv"].set_index("variable")["loo_rmse"]
    table, draws = uncertainty.monte_carlo(sample, point, cfg, u.interp_error_scale * float(cv["tmean"]),
                                           u.interp_error_scale * float(cv["prcp"]))
    return Artefact(tables={"uncertainty_headlines": table, "uncertainty_draws": draws})


STAGES = (
    Stage("static", "grid + DEM", files=("boundaries", "dem"),
          params=lambda c: (c.resolution_m, c.checks.plausible_ranges), compute=_static),
    Stage("climate", "climate + Rh", ("static",), ("stations",),
          lambda c: (c.inputs.station_layout, c.years, dataclasses.asdict(c.rh), c.chunk_xy,
                     dataclasses.asdict(c.checks)), _climate),
    Stage("carbon", "NPP + NEP + land cover", ("static", "climate"), ("npp", "landcover"),
          lambda c: (c.years, c.stats.min_valid, c.checks.plausible_ranges), _carbon),
    Stage("stats", "per-pixel statistics", ("carbon", "climate"), (),
          lambda c: dataclasses.asdict(c.stats), _stats),
    Stage("hurst_null", "Hurst null", (), (),
          lambda c: (len(c.years), c.seed, c.stats.hurst_null_sims, c.stats.hurst_null_q), _hurst_null),
    Stage("classes", "classes + FDR", ("static", "climate", "stats", "hurst_null"), (),
          lambda c: (dataclasses.asdict(c.stats), c.seed), _classes),
    Stage("rh_sensitivity", "Rh sensitivity", ("static", "carbon", "climate", "stats", "classes"), (),
          lambda c: (dataclasses.asdict(c.stats), dataclasses.asdict(c.rh), carbon.RH_SENSITIVITY_PCT),
          _rh_sensitivity),
    Stage("attribution", "trend attribution", ("carbon", "climate"), (),
          lambda c: (c.stats.min_valid, attribution.METHODS), _attribution),
    Stage("uncertainty", "uncertainty (Monte Carlo)",
          ("static", "carbon", "climate", "stats", "classes", "attribution"),
          (), lambda c: (dataclasses.asdict(c.stats), dataclasses.asdict(c.rh),
                         dataclasses.asdict(c.uncertainty), c.seed, uncertainty.STREAM), _uncertainty),
)
