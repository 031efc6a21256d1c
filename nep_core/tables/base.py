"""The building blocks of the tables: access to the results store, the unit-carrying column names,
class names, region shares and the Mann-Kendall variants with their map-level FDR flags."""
from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from .. import zonal
from ..errors import NepInputError
from ..stats import fdr
from ..vocab import AREA_UNITS, CORRECTIONS, LANDCOVER_CLASSES, NO_CORRECTION, PROVINCE_NAMES

AREA = f"area ({AREA_UNITS})"
SHARE = "share (%)"


def dataset(results) -> xr.Dataset:
    """The results Dataset of a ``Results`` object (``.ds``) or the Dataset itself."""
    ds = getattr(results, "ds", results)
    if not isinstance(ds, xr.Dataset):
        raise NepInputError(f"expected a results Dataset or an object with .ds, got {type(results)}")
    return ds


def need(ds: xr.Dataset, *names: str):
    missing = [n for n in names if n not in ds]
    if missing:
        raise NepInputError(f"the results store lacks {missing} (see the schema in ARCHITECTURE.md)",
                            variable=missing[0])


def is_synthetic(results) -> bool:
    """True when the results come from the embedded synthetic scenario (``attrs["synthetic"]``)."""
    return bool(int(dataset(results).attrs.get("synthetic", 0)))


def _names(ds, var: str, default: dict) -> dict:
    ds = dataset(ds)
    lab = zonal.class_labels(ds[var]) if var in ds else {}
    return {c: n for c, n in lab.items() if c != 0} or dict(default)


def province_names(ds) -> dict:
    """Province code -> name, from the ``province`` flags or ``nep_core.vocab.PROVINCE_NAMES``."""
    return _names(ds, "province", PROVINCE_NAMES)


def landcover_names(ds) -> dict:
    """Land-cover code -> name, from the ``landcover`` flags or ``nep_core.vocab.LANDCOVER_CLASSES``."""
    return _names(ds, "landcover", LANDCOVER_CLASSES)


def in_region(ds) -> xr.DataArray:
    return ds["province"] > 0


def region_shares(da, ds, codes=None, labels=None) -> pd.DataFrame:
    """Class shares over the study region, with unit-carrying column names (``attrs`` kept)."""
    cls = da.where(in_region(ds), 0) if da.dtype.kind in "iub" else da.where(in_region(ds))
    return zonal.area_shares(cls, ds["cell_area"], codes=codes, labels=labels).rename(
        columns={"area_km2": AREA, "share_pct": SHARE})


def true_share(cond, valid, ds) -> float:
    """Share (%) of the valid region area where ``cond`` holds."""
    code = xr.where(in_region(ds) & valid, xr.where(cond, 1, 2), 0)
    return float(region_shares(code, ds, codes=[1, 2])[SHARE].iloc[0])


def planted_truth(results, truth, var: str) -> xr.Dataset:
    """The planted truth (argument or ``results.truth``); an error when it lacks ``var``."""
    truth = getattr(results, "truth", None) if truth is None else truth
    if truth is None or var not in truth:
        raise NepInputError(f"no planted truth {var!r} (only the synthetic scenario has one)", variable=var)
    return truth


def fdr_level(results, fdr_alpha, alpha: float) -> float:
    """The BH level: the argument, else ``results.config.stats.fdr_alpha``, else 2 * alpha."""
    if fdr_alpha is not None:
        return fdr_alpha
    cfg = getattr(results, "config", None)
    return cfg.stats.fdr_alpha if cfg is not None else 2 * alpha


def p_variants(ds) -> dict:
    """p-value map of each Mann-Kendall variant: none and the three autocorrelation corrections."""
    none = f"trend_p_{NO_CORRECTION}"
    out = {NO_CORRECTION: ds[none] if none in ds else ds["trend_p"]}
    for c in CORRECTIONS:
        if f"trend_p_{c}" in ds:
            out[c] = ds[f"trend_p_{c}"]
    return out


def fdr_flags(ds, name: str, p, valid, q: float) -> xr.DataArray:
    """BH flags of variant ``name`` at level ``q``: the stored ``trend_sig_fdr_<name>`` when stored
    at that level, else ``nep_core.stats.fdr`` of ``p`` over the ``valid`` pixels."""
    key = f"trend_sig_fdr_{name}"
    if key in ds and np.isclose(float(ds[key].attrs.get("alpha", np.nan)), q):
        return ds[key].astype(bool)
    return fdr(p.where(valid), alpha=q)
