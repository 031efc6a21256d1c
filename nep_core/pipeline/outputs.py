"""The user-facing outputs besides ``results.nc``: which tables and maps, and how maps are written."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
import xarray as xr

from .. import grid
from ..stats import HURST_METHODS
from ..store import atomic_path
from ..vocab import CORRECTIONS

ZONAL_TABLES = ("province_summary", "drywet_summary", "nep_series", "landcover_nep_series", "climate_series",
                "nep_class_shares", "trend_class_shares", "trend_sensitivity", "cv_class_shares",
                "landcover_areas", "landcover_shares_by_year", "landcover_changes", "landcover_nep",
                "persistence_shares", "hurst_summary", "partial_corr_shares", "climate_trends",
                "study_vs_reproduction", "table1_trend_categories", "attribution_by_province",
                "attribution_by_landcover")
COG_MAPS = ("nep_mean", "nep_class", "trend_slope", "trend_class", "cv", "cv_class", "hurst",
            "persistence_class", "persistence_class_calibrated", "pcorr_r_tmean", "pcorr_r_prcp",
            "pcorr_r_rad", "attr_class", "attr_slope_climate", "attr_slope_human")
# 2-D variables left lazy when the store is too large to load: those no table or map reads, and
# those one or two tables read once (the corrected trend p-values, the Hurst variants, the
# attribution: loading them raised the 500 m peak and saved no time)
_LEFT_LAZY = {"lon", "lat", "elevation", "trend_intercept", "trend_s", "trend_var_s", "trend_tau",
              "trend_n_valid", "trend_z", *(f"trend_z_{c}" for c in CORRECTIONS), "trend_slope_low",
              "trend_slope_high", "trend_reason", "cv_reason", "hurst_reason",
              *(f"trend_p_{c}" for c in CORRECTIONS), *(f"hurst_{m}" for m in HURST_METHODS),
              "attr_r2", "attr_n_valid", "attr_reason", "attr_slope_total", "attr_share_climate",
              "attr_slope_climate", "attr_slope_human", "attr_share_human",
              *(f"attr_time_{v}" for v in ("slope_climate", "slope_human", "share_human", "class"))}


#: a store smaller than this is loaded whole
LOAD_WHOLE_BYTES = 3e9


def load_maps(store: xr.Dataset) -> xr.Dataset:
    """``store`` in memory when under 3 GB; otherwise with its 2-D maps (and the land-cover stack)
    in memory and the yearly cubes left lazy (at 500 m the store is ~23 GB uncompressed, and the
    tables read the same ~4.5 GB of maps again and again)."""
    if store.nbytes < LOAD_WHOLE_BYTES:
        return store.load()
    out = store.copy()
    for n, v in store.data_vars.items():    # one map at a time: all at once held every chunk twice
        if n not in _LEFT_LAZY and (v.dims == ("y", "x") or n == "landcover"):
            out[n] = store[n].load()
    return out


def write_maps(ds: xr.Dataset, mdir: Path):
    """Cloud-optimised GeoTIFFs of ``COG_MAPS`` in ``mdir`` (QGIS-readable, CRS and units in the tags)."""
    mdir.mkdir(exist_ok=True)
    for name in COG_MAPS:
        da = ds[name]
        is_int = da.dtype.kind in "iu"
        arr = np.asarray(da.values, dtype=np.int16 if is_int else np.float32)
        tags = {k: str(v) for k, v in da.attrs.items() if k in ("units", "long_name", "description",
                                                                  "flag_meanings", "flag_values")}
        if ds.attrs.get("synthetic"):
            tags["note"] = "SYNTHETIC embedded scenario: not observations"
        # GDAL's block cache defaults to 5 % of RAM (1.2 GB here) on top of the maps in memory;
        # num_threads: GDAL deflates the COG tiles on every core
        with atomic_path(mdir / f"{name}.tif") as tmp, rasterio.Env(GDAL_CACHEMAX=256):
            with rasterio.open(tmp, "w", driver="COG", width=arr.shape[1], height=arr.shape[0], count=1,
                               dtype=arr.dtype.name, crs=grid.CRS_ALBERS, transform=grid.grid_transform(ds),
                               nodata=0 if is_int else np.nan, compress="DEFLATE", blocksize=256,
                               overview_resampling="nearest" if is_int else "average",
                               num_threads="ALL_CPUS") as dst:
                dst.write(arr, 1)
                dst.update_tags(**tags)
        del arr
