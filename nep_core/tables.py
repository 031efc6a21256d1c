"""One function per table of the study (and of the book's additions), read from the results store.

Every function takes the results ``Dataset`` (or a ``Results`` object with ``.ds``) and returns a
``pandas.DataFrame`` whose column names carry their units, e.g. ``"mean NEP (g C m-2 a-1)"``,
``"area (km2)"``, ``"share (%)"``. No function here computes a per-pixel statistic: they aggregate
stored results with :mod:`nep_core.zonal` (area-weighted) and label stored classes.

``REFERENCE`` holds the numbers the study reports (copied from its text into
``nep_core/data/study_reference.csv``; reference data, not results), used by :func:`study_vs_reproduction`.
"""
from __future__ import annotations

import weakref
from importlib import resources

import numpy as np
import pandas as pd
import xarray as xr

from . import classify, zonal
from .errors import NepInputError
from .grid import data_path
from .stats import fdr
from .vocab import (AREA_UNITS, CORRECTIONS, DRIVERS, LANDCOVER_CLASSES, NEP_UNITS, NO_CORRECTION,
                    PROVINCE_NAMES, REGION_NAME, SLOPE_UNITS)

__all__ = [
    "REFERENCE", "dataset", "province_names",
    "landcover_names", "nep_series", "landcover_nep_series", "climate_series",
    "table1_trend_categories", "province_summary", "nep_class_shares", "trend_class_shares",
    "trend_sensitivity", "trend_false_positives", "drywet_summary", "qc_table", "qc_validation",
    "interpolation_table", "hurst_null_for", "cv_class_shares", "landcover_areas", "landcover_shares_by_year",
    "transition_table", "landcover_changes", "landcover_nep", "persistence_shares", "hurst_summary",
    "partial_corr_shares", "climate_trends", "truth_recovery", "study_vs_reproduction",
    "is_synthetic",
]

AREA = f"area ({AREA_UNITS})"
SHARE = "share (%)"


# ----------------------------------------------------------------------------------------- access
def dataset(results) -> xr.Dataset:
    """The results Dataset of a ``Results`` object (``.ds``) or the Dataset itself."""
    ds = getattr(results, "ds", results)
    if not isinstance(ds, xr.Dataset):
        raise NepInputError(f"expected a results Dataset or an object with .ds, got {type(results)}")
    return ds


def _need(ds: xr.Dataset, *names: str):
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


def _inside(ds) -> xr.DataArray:
    return ds["province"] > 0


def _shares(da, ds, codes=None, labels=None) -> pd.DataFrame:
    """Class shares over the study region, renamed to unit-carrying columns."""
    cls = da.where(_inside(ds), 0) if da.dtype.kind in "iub" else da.where(_inside(ds))
    df = zonal.area_shares(cls, ds["cell_area"], codes=codes, labels=labels)
    out = df.rename(columns={"area_km2": AREA, "share_pct": SHARE})
    out.attrs = dict(df.attrs)
    return out


def _true_share(cond, valid, ds) -> float:
    """Share (%) of the valid region area where ``cond`` holds."""
    code = xr.where(_inside(ds) & valid, xr.where(cond, 1, 2), 0)
    return float(_shares(code, ds, codes=[1, 2])[SHARE].iloc[0])


def _zone_area(ds, zone, names: dict) -> pd.Series:
    """Area (km2) of each zone of ``names`` (index: the names) and of the whole region."""
    area = zonal.area_shares(zone, ds["cell_area"], codes=list(names), labels=names)
    col = pd.Series(area["area_km2"].to_numpy(), index=list(names.values()))
    col[REGION_NAME] = col.sum()
    return col


def _truth(results, truth, var: str) -> xr.Dataset:
    """The planted truth (argument or ``results.truth``); an error when it lacks ``var``."""
    truth = getattr(results, "truth", None) if truth is None else truth
    if truth is None or var not in truth:
        raise NepInputError(f"no planted truth {var!r} (only the synthetic scenario has one)", variable=var)
    return truth


def _fdr_alpha(results, fdr_alpha, alpha: float) -> float:
    """The BH level: the argument, else ``results.config.stats.fdr_alpha``, else 2 * alpha."""
    if fdr_alpha is not None:
        return fdr_alpha
    cfg = getattr(results, "config", None)
    return cfg.stats.fdr_alpha if cfg is not None else 2 * alpha


# ----------------------------------------------------------------------------------------- series
# The yearly series read whole (year, y, x) cubes; at 500 m each read is ~2.5 GB decompressed and
# several tables and figures need the same series. They are memoised per Dataset (dropped with it),
# each entry holding the very Variable objects it was computed from: replacing a variable
# (ds["nep"] = ...) makes the identity check fail and the entry is recomputed, so a stale series is
# never returned (Variables cannot be weakly referenced; the entry keeps at most one old set alive).
_SERIES_MEMO: dict = {}


def _memo(ds: xr.Dataset, key: tuple, names: tuple, compute) -> pd.DataFrame:
    variables = tuple(ds.variables[n] for n in names)
    slot = _SERIES_MEMO.get(id(ds))
    if slot is None or slot[0]() is not ds:
        slot = (weakref.ref(ds), {})
        _SERIES_MEMO[id(ds)] = slot
        weakref.finalize(ds, _SERIES_MEMO.pop, id(ds), None)
    hit = slot[1].get(key)
    if hit is not None and all(a is b for a, b in zip(hit[0], variables)):
        return hit[1].copy()
    value = compute()
    slot[1][key] = (variables, value)
    return value.copy()


def nep_series(results) -> pd.DataFrame:
    """Area-weighted mean NEP per year for NWC and each province (rows), g C m-2 a-1."""
    ds = dataset(results)
    _need(ds, "nep", "cell_area", "province")

    def compute():
        df = zonal.zonal_mean(ds["nep"], ds["cell_area"], ds["province"], names=province_names(ds),
                              total=REGION_NAME)
        return df.loc[[REGION_NAME, *[n for n in df.index if n != REGION_NAME]]]

    return _memo(ds, ("nep_series",), ("nep", "cell_area", "province"), compute)


def landcover_nep_series(results, lc_year: int = 2022) -> pd.DataFrame:
    """Area-weighted mean NEP per year for each land-cover class of ``lc_year`` (a fixed map, so a
    class's series follows the same pixels every year), g C m-2 a-1."""
    ds = dataset(results)
    _need(ds, "nep", "cell_area", "province", "landcover")

    def compute():
        lc = ds["landcover"].sel(lc_year=lc_year).where(_inside(ds), 0)
        return zonal.zonal_mean(ds["nep"], ds["cell_area"], lc, names=landcover_names(ds))

    return _memo(ds, ("landcover_nep_series", int(lc_year)), ("nep", "cell_area", "province", "landcover"),
                 compute)


def climate_series(results) -> pd.DataFrame:
    """NWC area-weighted annual mean of each climate driver (rows tmean, prcp, rad) by year."""
    ds = dataset(results)
    _need(ds, *DRIVERS, "cell_area", "province")

    def compute():
        rows = {v: zonal.zonal_mean(ds[v].where(_inside(ds)), ds["cell_area"]).iloc[0] for v in DRIVERS}
        return pd.DataFrame(rows).T

    return _memo(ds, ("climate_series",), (*DRIVERS, "cell_area", "province"), compute)


# ------------------------------------------------------------------------------------------ tables
def table1_trend_categories(results=None) -> pd.DataFrame:
    """Table 1: the Mann-Kendall trend categories (|Z| thresholds 1.645 / 1.960 / 2.576).

    Taken from ``nep_core.classify``'s declared trend table; the class codes and labels are the ones
    stored in the ``trend_class`` variable.
    """
    return classify.TREND_CLASSES.copy()


def province_summary(results) -> pd.DataFrame:
    """Mean NEP and trend per province and for NWC.

    Columns: area (km2); mean NEP (area-weighted mean of the per-pixel multi-year mean,
    g C m-2 a-1); mean Sen slope (area-weighted mean of the per-pixel Theil-Sen slope, g C m-2 a-2);
    OLS slope of the regional mean series (the line in Fig 2, g C m-2 a-2); minimum and maximum of
    the yearly regional mean (g C m-2 a-1).
    """
    ds = dataset(results)
    _need(ds, "nep_mean", "trend_slope", "cell_area", "province")
    names = province_names(ds)
    series = nep_series(ds)
    trend = zonal.linear_trend(series)
    out = pd.DataFrame({
        AREA: _zone_area(ds, ds["province"], names),
        **_zone_means(ds, ds["province"], names),
        f"OLS slope of mean series ({SLOPE_UNITS})": trend["slope"],
        f"min yearly mean ({NEP_UNITS})": series.min(axis=1),
        f"max yearly mean ({NEP_UNITS})": series.max(axis=1),
    })
    out.index.name = "region"
    return out.loc[series.index]


def _zone_means(ds, zone, names: dict, total=REGION_NAME) -> dict:
    """Area-weighted zonal means of the per-pixel mean NEP and Sen slope, by column name."""
    return {f"mean NEP ({NEP_UNITS})": zonal.zonal_mean(ds["nep_mean"], ds["cell_area"], zone,
                                                        names=names, total=total),
            f"mean Sen slope ({SLOPE_UNITS})": zonal.zonal_mean(ds["trend_slope"], ds["cell_area"], zone,
                                                                names=names, total=total)}


def drywet_summary(results, alpha: float = 0.05) -> pd.DataFrame:
    """Zonal statistics per dry/wet zone (200/400/800 mm isohyets) and for NWC, area weighted.

    Columns: area (km2); mean annual precipitation (mm a-1); mean NEP (g C m-2 a-1); mean Sen slope
    (g C m-2 a-2); share of the zone with a significant increase (MK p < alpha, %); mean partial r of
    NEP with temperature, precipitation and radiation (1) and the share with p < alpha (%).
    """
    ds = dataset(results)
    _need(ds, "drywet", "nep_mean", "trend_slope", "trend_p", "cell_area")
    names = zonal.class_labels(ds["drywet"])
    zone = ds["drywet"].where(_inside(ds), 0)

    def mean(da):
        return zonal.zonal_mean(da, ds["cell_area"], zone, names=names, total=REGION_NAME)

    def share(mask, valid):
        return 100 * mean(xr.where(valid, mask.astype(float), np.nan))

    out = {AREA: _zone_area(ds, zone, names)}
    if "prcp" in ds:
        out["mean annual precipitation (mm a-1)"] = mean(ds["prcp"].mean("year"))
    out.update(_zone_means(ds, zone, names))
    valid = np.isfinite(ds["trend_p"]) & np.isfinite(ds["trend_slope"])
    out[f"significant increase, p < {alpha} (%)"] = share((ds["trend_p"] < alpha) & (ds["trend_slope"] > 0), valid)
    for v, label in (("tmean", "temperature"), ("prcp", "precipitation"), ("rad", "radiation")):
        if f"pcorr_r_{v}" in ds:
            out[f"mean partial r with {label} (1)"] = mean(ds[f"pcorr_r_{v}"])
            out[f"partial r with {label} p < {alpha} (%)"] = share(
                ds[f"pcorr_p_{v}"] < alpha, np.isfinite(ds[f"pcorr_p_{v}"]))
    df = pd.DataFrame(out)
    df.index.name = "dry/wet zone"
    return df.loc[[*(n for n in names.values() if n in df.index), REGION_NAME]]


def qc_table(results) -> pd.DataFrame:
    """Station QC flag counts per variable with readable column names (``results.tables["qc_summary"]``)."""
    qc = results.tables["qc_summary"].copy()
    qc = qc.set_index("variable") if "variable" in qc.columns else qc
    ren = {c: c.split("_", 1)[1].replace("_", " ") + " (values)" for c in qc.columns if c[:1].isdigit()}
    ren.update({"n_values": "station-months (values)", "n_filled": "filled by kriging (values)"})
    return qc.rename(columns=ren)


def qc_validation(results, faults: pd.DataFrame | None = None) -> pd.DataFrame:
    """Synthetic data only: the QC and kriging fill checked against the planted station faults.

    ``faults`` (default ``results.tables["station_faults"]``) lists every planted fault with
    ``station, date (YYYY-MM), variable, kind (missing | outlier), clean_value``. Per variable:
    planted outliers and the share the QC flagged (%), clean values flagged (false alarms, % of clean
    values), and for every planted fault the kriging fill against the clean value: RMSE and bias (in
    ``units``, per station-month) and the share within 1.96 kriging standard deviations (%).
    """
    faults = results.tables.get("station_faults") if faults is None else faults
    if faults is None:
        raise NepInputError("no planted station faults (only the synthetic scenario has them)",
                            variable="station_faults")
    st = results.stations
    times = pd.DatetimeIndex(st["time"].values).strftime("%Y-%m")
    t_index = {t: i for i, t in enumerate(times)}
    s_index = {str(s): i for i, s in enumerate(st["station"].values)}
    rows = {}
    for var in ("tmean", "prcp", "rad"):
        f = faults[faults["variable"] == var]
        si = np.array([s_index.get(str(s), -1) for s in f["station"]])
        ti = np.array([t_index.get(str(d), -1) for d in f["date"]])
        ok = (si >= 0) & (ti >= 0)
        f, si, ti = f[ok], si[ok], ti[ok]
        flag = st[f"{var}_flag"].transpose("station", "time").values
        filled = st[var].transpose("station", "time").values
        kvar = st[f"{var}_krige_var"].transpose("station", "time").values
        outl = (f["kind"] == "outlier").to_numpy()
        planted = np.zeros(flag.shape, bool)
        planted[si, ti] = True
        clean = ~planted & (flag != 1)                       # not planted, not missing
        err = filled[si, ti] - f["clean_value"].to_numpy(float)
        sd = np.sqrt(kvar[si, ti])
        units = st[var].attrs.get("units", "")
        rows[var] = {
            "planted outliers": int(outl.sum()),
            "outliers flagged (%)": 100 * np.mean(flag[si[outl], ti[outl]] != 0) if outl.any() else np.nan,
            "clean values flagged (%)": 100 * np.mean(flag[clean] != 0),
            "planted faults filled": int(np.isfinite(err).sum()),
            "units": units,
            "fill RMSE": float(np.sqrt(np.nanmean(err ** 2))),
            "fill bias": float(np.nanmean(err)),
            "within 1.96 kriging SD (%)": 100 * np.mean(np.abs(err[sd > 0]) <= 1.96 * sd[sd > 0]),
        }
    out = pd.DataFrame.from_dict(rows, orient="index")      # keeps numeric columns numeric
    out.index.name = "variable"
    return out


def interpolation_table(results, truth: xr.Dataset | None = None) -> pd.DataFrame:
    """Cross-validation of the climate surfaces (readable), plus, on synthetic data, the error of the
    annual surfaces on the grid against the planted true climate (area-weighted over the region)."""
    cv = results.tables["interpolation_cv"].copy()
    cv = cv.set_index("variable") if "variable" in cv.columns else cv
    out = pd.DataFrame({
        "surface": ["monthly" if v in ("tmean", "prcp") else "annual" for v in cv.index],
        "units": cv["units"], "stations": cv["n_stations"], "time steps": cv["n_steps"],
        "LOO RMSE": cv["loo_rmse"], "LOO bias": cv["loo_bias"],
        "LOO RMSE range": [f"{a:.3g} - {b:.3g}" for a, b in zip(cv["loo_rmse_min"], cv["loo_rmse_max"])],
        "elevation coefficient (per m)": cv["elev_coef_median"],
    }, index=cv.index)
    truth = getattr(results, "truth", None) if truth is None else truth
    if truth is not None:
        ds = dataset(results)
        inside = _inside(ds)
        w = ds["cell_area"].where(inside)
        for v in out.index:
            if v in truth and v in ds:
                d = (ds[v] - truth[v]).where(inside)
                ww = w.where(np.isfinite(d))
                out.loc[v, "annual grid RMSE vs planted truth"] = float(np.sqrt((d ** 2 * ww).sum() / (ww.sum() * d.sizes["year"])))
                out.loc[v, "annual grid bias vs planted truth"] = float((d * ww).sum() / (ww.sum() * d.sizes["year"]))
                out.loc[v, "annual units"] = ds[v].attrs.get("units", "")
    out.index.name = "variable"
    return out


def nep_class_shares(results) -> pd.DataFrame:
    """Fig 3a: area and share of the mean-NEP classes (source / low / medium / high sink)."""
    ds = dataset(results)
    _need(ds, "nep_class", "cell_area")
    return _shares(ds["nep_class"], ds)


def _fdr_classes(ds) -> xr.DataArray:
    """Trend classes with pixels that fail map-level FDR moved to the same-direction
    non-significant class (label ``non significant increase/decrease``)."""
    lab = zonal.class_labels(ds["trend_class"])
    if not lab:
        raise NepInputError("trend_class without flag_values / flag_meanings attributes",
                            variable="trend_class")
    by_label = {v: k for k, v in lab.items()}
    cls = ds["trend_class"]
    keep = ds["trend_sig_fdr"].astype(bool)
    out = cls.copy()
    for code, label in lab.items():
        if "significant" in label and not label.startswith("non"):
            direction = "increase" if label.endswith("increase") else "decrease"
            target = by_label.get(f"non significant {direction}")
            if target is None:
                raise NepInputError(f"no 'non significant {direction}' class in trend_class flags",
                                    variable="trend_class")
            out = xr.where((cls == code) & ~keep, target, out)
    out.attrs = dict(cls.attrs)
    return out.astype(cls.dtype)


def trend_class_shares(results) -> pd.DataFrame:
    """Fig 3b / Table 1 shares: area per trend class, as mapped and after map-level FDR.

    ``share (%)`` uses the per-pixel test at the configured alpha (the study's practice);
    ``share, FDR (%)`` moves pixels that are not significant under Benjamini-Hochberg control
    (``trend_sig_fdr``) into the non-significant class of the same direction.
    """
    ds = dataset(results)
    _need(ds, "trend_class", "trend_sig_fdr", "cell_area")
    out = _shares(ds["trend_class"], ds)
    fdr = _shares(_fdr_classes(ds), ds)
    out["share, FDR (%)"] = fdr[SHARE].to_numpy()
    return out


def _direction_shares(ds, cls) -> dict:
    """Increasing / decreasing / significant shares (%) from a trend-class share table."""
    lab = cls["label"]
    inc = lab.str.endswith("increase")
    dec = lab.str.endswith("decrease")
    sig = lab.str.match(r"^(extremely )?significant")
    s = cls[SHARE]
    return {"increasing": s[inc].sum(), "decreasing": s[dec].sum(),
            "significant increase": s[inc & sig].sum(), "significant decrease": s[dec & sig].sum()}


def _p_vars(ds) -> dict:
    """p-value map of each Mann-Kendall variant: none and the three autocorrelation corrections."""
    none = f"trend_p_{NO_CORRECTION}"
    out = {NO_CORRECTION: ds[none] if none in ds else ds["trend_p"]}
    for c in CORRECTIONS:
        if f"trend_p_{c}" in ds:
            out[c] = ds[f"trend_p_{c}"]
    return out


def _fdr_flags(ds, name: str, p, valid, q: float) -> xr.DataArray:
    """BH flags of variant ``name`` at level ``q``: the stored ``trend_sig_fdr_<name>`` when stored
    at that level, else ``nep_core.stats.fdr`` of ``p`` over the ``valid`` pixels."""
    key = f"trend_sig_fdr_{name}"
    if key in ds and np.isclose(float(ds[key].attrs.get("alpha", np.nan)), q):
        return ds[key].astype(bool)
    return fdr(p.where(valid), alpha=q)


def trend_sensitivity(results, alpha: float = 0.05, fdr_alpha: float | None = None) -> pd.DataFrame:
    """Significant area share under each Mann-Kendall variant, without and with map-level FDR.

    Parameters
    ----------
    results : Results or Dataset
    alpha : float
        Per-pixel significance level.
    fdr_alpha : float, optional
        Benjamini-Hochberg level of the stored flags; default ``results.config.stats.fdr_alpha``
        or 2 * alpha.

    Returns
    -------
    DataFrame indexed by variant (none, hamed_rao, yue_wang, tfpw) with ``significant, p < alpha
    (%)``, ``significant, BH FDR q = alpha (%)`` (same level as the per-pixel test, so it can only
    be smaller) and, when ``fdr_alpha`` differs, ``significant, BH FDR q = fdr_alpha (%)`` (the
    stored ``trend_sig_fdr_<variant>`` flags; q = 2 alpha after Wilks 2016 may exceed the raw
    p < alpha share). Shares are of the valid area. Missing stored flags are recomputed with
    ``nep_core.stats.fdr``.
    """
    ds = dataset(results)
    fdr_alpha = _fdr_alpha(results, fdr_alpha, alpha)
    rows = {}
    for name, p in _p_vars(ds).items():
        inside = _inside(ds) & np.isfinite(p)
        row = {f"significant, p < {alpha} (%)": _true_share(p < alpha, inside, ds)}
        for q in [alpha] if np.isclose(fdr_alpha, alpha) else [alpha, fdr_alpha]:
            row[f"significant, BH FDR q = {q} (%)"] = _true_share(_fdr_flags(ds, name, p, inside, q),
                                                                   inside, ds)
        rows[name] = row
    out = pd.DataFrame(rows).T
    out.index.name = "Mann-Kendall variant"
    return out


def trend_false_positives(results, alpha: float = 0.05, fdr_alpha: float | None = None,
                          truth: xr.Dataset | None = None) -> pd.DataFrame:
    """Synthetic data only: how each Mann-Kendall variant does where the planted trend is exactly 0.

    Returns a DataFrame indexed by variant with the number of planted-zero pixels, the per-pixel
    false-positive rate ``p < alpha`` there (%, should be near 100 * alpha), the share of all
    significant pixels that are planted-zero after BH at ``fdr_alpha`` (the false discovery
    proportion, %, should be at most 100 * q), and the power: share of planted-trend pixels that
    are BH-significant (%).
    """
    ds = dataset(results)
    planted = _truth(results, truth, "trend_slope")["trend_slope"].values
    fdr_alpha = _fdr_alpha(results, fdr_alpha, alpha)
    rows = {}
    for name, p in _p_vars(ds).items():
        inside = (_inside(ds) & np.isfinite(p)).values & np.isfinite(planted)
        null = inside & (planted == 0)
        fsig = _fdr_flags(ds, name, p, xr.DataArray(inside, dims=p.dims), fdr_alpha).values & inside
        rows[name] = {"planted-zero pixels": int(null.sum()),
                      f"false-positive rate, p < {alpha} (%)":
                          100 * np.mean(p.values[null] < alpha) if null.any() else np.nan,
                      f"false discovery proportion, BH q = {fdr_alpha} (%)":
                          100 * (fsig & null).sum() / max(fsig.sum(), 1),
                      f"power, BH q = {fdr_alpha} (%)": 100 * fsig[inside & ~null].mean()}
    out = pd.DataFrame(rows).T
    out.index.name = "Mann-Kendall variant"
    return out


def cv_class_shares(results) -> pd.DataFrame:
    """Fig 4: area per coefficient-of-variation class with the Fisher-Jenks break edges.

    The edges come from the ``breaks`` attribute of ``cv_class`` (n + 1 values). ``attrs`` hold the
    area-weighted mean Cv (``mean_cv``) over valid pixels.
    """
    ds = dataset(results)
    _need(ds, "cv_class", "cv", "cell_area")
    out = _shares(ds["cv_class"], ds)
    edges = ds["cv_class"].attrs.get("breaks")
    if edges is not None:
        edges = np.asarray(edges, float)
        if edges.size != len(out) + 1:
            raise NepInputError(f"cv_class has {len(out)} classes but {edges.size} break edges",
                                variable="cv_class")
        out.insert(2, "Cv from (1)", edges[:-1])
        out.insert(3, "Cv to (1)", edges[1:])
    out.attrs["mean_cv"] = float(zonal.zonal_mean(ds["cv"].where(_inside(ds)), ds["cell_area"]).iloc[0])
    return out


def landcover_areas(results, years=(2000, 2011, 2022)) -> pd.DataFrame:
    """Land-cover class areas (km2) and shares (%) in the given years, and the change in share
    (percentage points) between the first and the last of them."""
    ds = dataset(results)
    _need(ds, "landcover", "cell_area")
    names = landcover_names(ds)
    cols = {}
    for yr in years:
        sh = _shares(ds["landcover"].sel(lc_year=yr), ds, codes=list(names), labels=names)
        cols[f"{yr} {AREA}"] = sh[AREA].to_numpy()
        cols[f"{yr} {SHARE}"] = sh[SHARE].to_numpy()
    out = pd.DataFrame(cols, index=pd.Index(list(names.values()), name="land cover"))
    out[f"change {years[0]}-{years[-1]} (percentage points)"] = (
        out[f"{years[-1]} {SHARE}"] - out[f"{years[0]} {SHARE}"])
    return out


def landcover_shares_by_year(results) -> pd.DataFrame:
    """Share (%) of each land-cover class (columns) in every land-cover year (rows)."""
    ds = dataset(results)
    names = landcover_names(ds)
    rows = {int(yr): _shares(ds["landcover"].sel(lc_year=yr), ds, codes=list(names),
                             labels=names)[SHARE].to_numpy()
            for yr in ds["lc_year"].values}
    out = pd.DataFrame(rows, index=[f"{n} {SHARE}" for n in names.values()]).T
    out.index.name = "year"
    return out


def transition_table(results, year_from: int = 2000, year_to: int = 2022) -> pd.DataFrame:
    """Land-cover transition matrix (km2): rows = class in ``year_from``, columns = in ``year_to``."""
    ds = dataset(results)
    names = landcover_names(ds)
    m = zonal.transition_matrix(ds["landcover"].sel(lc_year=year_from).where(_inside(ds), 0),
                                ds["landcover"].sel(lc_year=year_to).where(_inside(ds), 0),
                                ds["cell_area"], k=max(names), labels=names)
    m.index.name = f"{year_from} ({AREA_UNITS})"
    m.columns.name = f"{year_to} ({AREA_UNITS})"
    return m


def landcover_changes(results, years=(2000, 2011, 2022)) -> pd.DataFrame:
    """Share of the area whose land-cover class changed (%) in each consecutive period."""
    rows = []
    for a, b in zip(years[:-1], years[1:]):
        m = transition_table(results, a, b)
        rows.append({"period": f"{a}-{b}", f"changed area ({AREA_UNITS})": float(m.to_numpy().sum()
                                                                     - np.trace(m.to_numpy())),
                     "changed share (%)": zonal.changed_share(m)})
    return pd.DataFrame(rows).set_index("period")


def landcover_nep(results, lc_year: int = 2022) -> pd.DataFrame:
    """Mean NEP and trend per land-cover class (classes of the ``lc_year`` map).

    Columns: area (km2), mean NEP (g C m-2 a-1), mean Sen slope (area-weighted per-pixel
    Theil-Sen slope, g C m-2 a-2), OLS slope of the class mean series (the line in Fig 6).
    """
    ds = dataset(results)
    names = landcover_names(ds)
    lc = ds["landcover"].sel(lc_year=lc_year).where(_inside(ds), 0)
    area = zonal.area_shares(lc, ds["cell_area"], codes=list(names), labels=names)
    out = pd.DataFrame({
        AREA: area["area_km2"].to_numpy(),
        f"mean NEP ({NEP_UNITS})": zonal.zonal_mean(ds["nep_mean"], ds["cell_area"], lc,
                                                    names=names).to_numpy(),
        f"mean Sen slope ({SLOPE_UNITS})": zonal.zonal_mean(ds["trend_slope"], ds["cell_area"], lc,
                                                            names=names).to_numpy(),
        f"OLS slope of mean series ({SLOPE_UNITS})":
            zonal.linear_trend(landcover_nep_series(ds, lc_year))["slope"].to_numpy(),
    }, index=pd.Index(list(names.values()), name=f"land cover {lc_year}"))
    return out


def persistence_shares(results) -> pd.DataFrame:
    """Fig 7: area shares of the trend x Hurst classes under the study's H = 0.5 rule and under the
    calibrated threshold (the null quantile of H for the same n and estimator)."""
    ds = dataset(results)
    _need(ds, "persistence_class", "persistence_class_calibrated")
    a = _shares(ds["persistence_class"], ds)
    b = _shares(ds["persistence_class_calibrated"], ds, codes=a["class"].tolist())
    a = a.rename(columns={AREA: f"H > 0.5: {AREA}", SHARE: f"H > 0.5: {SHARE}"})
    thr = ds["persistence_class_calibrated"].attrs.get("threshold")
    tag = f"H > {float(thr):.3g}" if thr is not None else "calibrated"
    a[f"{tag}: {AREA}"] = b[AREA].to_numpy()
    a[f"{tag}: {SHARE}"] = b[SHARE].to_numpy()
    return a


def hurst_null_for(results, null: pd.DataFrame | None = None) -> pd.DataFrame | None:
    """The quantile rows of the Hurst null table for the estimator the results used.

    ``null`` (default ``results.tables["hurst_null"]``) may hold several methods and a ``mean``
    row; this keeps ``statistic == "quantile"`` rows of ``results.config.stats.hurst_method``
    (all rows of tables without those columns).
    """
    if null is None:
        null = getattr(results, "tables", {}).get("hurst_null")
    if null is None:
        return None
    out = null
    cfg = getattr(results, "config", None)
    if "method" in out.columns and cfg is not None:
        out = out[out["method"] == cfg.stats.hurst_method]
    if "statistic" in out.columns:
        out = out[out["statistic"] == "quantile"]
    return out.dropna(subset=["quantile"])


def hurst_summary(results, null: pd.DataFrame | None = None, q: float | None = None) -> pd.DataFrame:
    """Persistent (H above threshold) and anti-persistent shares (%) under H = 0.5 and under the
    calibrated threshold (quantile ``q`` of H under iid noise, from ``null``: columns ``quantile``
    and ``hurst``, e.g. ``results.tables["hurst_null"]``)."""
    ds = dataset(results)
    _need(ds, "hurst", "cell_area")
    null = hurst_null_for(results, null)
    cfg = getattr(results, "config", None)
    if q is None:
        q = cfg.stats.hurst_null_q if cfg is not None else 0.95
    rows = {"H > 0.5 (study rule)": 0.5}
    if null is not None:
        hit = null.loc[np.isclose(null["quantile"].astype(float), q), "hurst"]
        if hit.empty:
            raise NepInputError(f"the Hurst null table has no quantile {q}", variable="hurst_null")
        rows[f"H > null q{q:g} = {float(hit.iloc[0]):.3f} (calibrated)"] = float(hit.iloc[0])
    out = pd.DataFrame({
        "threshold H (1)": list(rows.values()),
        "persistent (%)": [_true_share(ds["hurst"] > t, np.isfinite(ds["hurst"]), ds)
                           for t in rows.values()],
    }, index=pd.Index(list(rows), name="rule"))
    out["anti-persistent (%)"] = 100.0 - out["persistent (%)"]
    return out


def partial_corr_shares(results, alpha: float = 0.05) -> pd.DataFrame:
    """Fig 9: shares (%) of pixels with positive / negative partial correlation of NEP with each
    driver (controlling for the other two), and significantly so at ``alpha`` (t-test, df = n - 4).
    Shares are over pixels with a finite r; r = 0 exactly counts as neither sign."""
    ds = dataset(results)
    rows = {}
    for v, (name, _) in DRIVERS.items():
        _need(ds, f"pcorr_r_{v}", f"pcorr_p_{v}")
        r, p = ds[f"pcorr_r_{v}"], ds[f"pcorr_p_{v}"]
        ok = _inside(ds) & np.isfinite(r)
        sign = xr.where(ok, xr.where(r > 0, 1, xr.where(r < 0, 2, 3)), 0)
        sig = xr.where(ok, xr.where(p < alpha, sign, 3), 0)
        s1 = _shares(sign, ds, codes=[1, 2, 3])[SHARE].to_numpy()
        s2 = _shares(sig, ds, codes=[1, 2, 3])[SHARE].to_numpy()
        rows[name] = {"positive (%)": s1[0], "negative (%)": s1[1],
                      f"significant positive, p < {alpha} (%)": s2[0],
                      f"significant negative, p < {alpha} (%)": s2[1]}
    out = pd.DataFrame(rows).T
    out.index.name = "driver"
    return out


def climate_trends(results) -> pd.DataFrame:
    """NWC mean of each driver and the OLS slope of its regional mean series (per year)."""
    series = climate_series(results)
    trend = zonal.linear_trend(series)
    rows = []
    for v, (name, units) in DRIVERS.items():
        rows.append({"driver": name, "units": units, "mean": float(series.loc[v].mean()),
                     "slope (units a-1)": float(trend.loc[v, "slope"]),
                     "r2 (1)": float(trend.loc[v, "r2"])})
    return pd.DataFrame(rows).set_index("driver")


def truth_recovery(results, truth: xr.Dataset | None = None, var: str = "trend_slope") -> pd.DataFrame:
    """Planted vs recovered per-pixel slope: bias, RMSE (g C m-2 a-2), correlation and the share of
    pixels whose recovered sign matches the planted one (synthetic scenario only)."""
    ds = dataset(results)
    truth = _truth(results, truth, var)
    est = ds[var].where(_inside(ds))
    tru = truth[var]
    ok = np.isfinite(est) & np.isfinite(tru)
    err = (est - tru).where(ok)
    w = ds["cell_area"].where(ok)
    bias = float((err * w).sum() / w.sum())
    rmse = float(np.sqrt((err ** 2 * w).sum() / w.sum()))
    r = float(xr.corr(est.where(ok), tru.where(ok)))
    units = ds[var].attrs.get("units", "")
    return pd.DataFrame({f"bias ({units})": [bias], f"RMSE ({units})": [rmse], "Pearson r (1)": [r],
                         "sign agreement (%)": [_true_share(np.sign(est) == np.sign(tru), ok, ds)]},
                        index=pd.Index([var], name="quantity"))


# ---------------------------------------------------------------------- the study's reported numbers
#: Numbers the study reports (STUDY.md; source text of the study), indexed by ``key``: ``quantity``,
#: ``study`` (the value), ``units``, ``check`` (what is wrong with a number on the study's own terms).
#: Reference data for the comparison table, not results.
with resources.as_file(data_path("study_reference.csv")) as _path:
    REFERENCE = pd.read_csv(_path, index_col="key", keep_default_na=False)


def _reproduced(results) -> dict:
    """Every number of ``REFERENCE`` that the results store can reproduce, by key."""
    ds = dataset(results)
    out = {}
    ps = province_summary(ds)
    mean_col = f"mean NEP ({NEP_UNITS})"
    out["nwc_mean"] = ps.loc[REGION_NAME, mean_col]
    out["nwc_min_year"] = ps.loc[REGION_NAME, f"min yearly mean ({NEP_UNITS})"]
    out["nwc_max_year"] = ps.loc[REGION_NAME, f"max yearly mean ({NEP_UNITS})"]
    out["area"] = ps.loc[REGION_NAME, AREA]
    provs = [p for p in ps.index if p != REGION_NAME]
    out["province_weighted_mean"] = float(np.average(ps.loc[provs, mean_col], weights=ps.loc[provs, AREA]))
    for p in provs:
        out[f"mean_{p}"] = ps.loc[p, mean_col]
        out[f"slope_{p}"] = ps.loc[p, f"OLS slope of mean series ({SLOPE_UNITS})"]
    nc = nep_class_shares(ds)[SHARE].to_numpy()
    out["nep_source"], out["nep_low"], out["nep_medium_high"] = nc[0], nc[1], nc[2:].sum()
    d = _direction_shares(ds, trend_class_shares(ds))
    out.update({"trend_inc": d["increasing"], "trend_dec": d["decreasing"],
                "trend_sig_inc": d["significant increase"], "trend_sig_dec": d["significant decrease"]})
    cv = cv_class_shares(ds)
    for i, s in enumerate(cv[SHARE].to_numpy(), start=1):
        out[f"cv_{i}"] = s
    out["cv_mean"] = cv.attrs["mean_cv"]
    la = landcover_areas(ds)
    for name in la.index:
        out[f"lc2022_{name}"] = la.loc[name, f"2022 {SHARE}"]
        out[f"lcchg_{name}"] = la.loc[name, "change 2000-2022 (percentage points)"]
    ch = landcover_changes(ds)["changed share (%)"].to_numpy()
    out["lc_changed_1"], out["lc_changed_2"] = ch[0], ch[1]
    ln = landcover_nep(ds)
    for name in ln.index:
        out[f"lcslope_{name}"] = ln.loc[name, f"OLS slope of mean series ({SLOPE_UNITS})"]
    hs = hurst_summary(results)
    out["hurst_pers"] = hs["persistent (%)"].iloc[0]
    out["hurst_anti"] = hs["anti-persistent (%)"].iloc[0]
    pers = persistence_shares(ds).set_index("label")[f"H > 0.5: {SHARE}"]
    for key, label in (("pers_cont_inc", "continuous increase"), ("pers_dec_inc", "decrease then increase"),
                       ("pers_inc_dec", "increase then decrease")):
        if label in pers.index:
            out[key] = pers[label]
    ct = climate_trends(ds)
    for v, (name, _) in DRIVERS.items():
        out[f"clim_{v}"] = ct.loc[name, "slope (units a-1)"]
    pc = partial_corr_shares(ds)
    for v, (name, _) in DRIVERS.items():
        row = pc.loc[name]
        out[f"pc_{v}_pos"] = row["positive (%)"]
        out[f"pc_{v}_neg"] = row["negative (%)"]
        out[f"pc_{v}_sigpos"] = row.iloc[2]
        out[f"pc_{v}_signeg"] = row.iloc[3]
    return {k: float(v) for k, v in out.items()}


def study_vs_reproduction(results) -> pd.DataFrame:
    """The study's reported numbers beside this reproduction's, with the study's own inconsistencies.

    Columns: ``quantity``, ``units``, ``study``, ``reproduction`` (``reproduction (SYNTHETIC data)``
    on the embedded scenario), ``difference`` (reproduction - study) and ``check`` (empty when the
    study's number is consistent with its other numbers, else what cannot be right).
    """
    rep = _reproduced(results)
    col = "reproduction (SYNTHETIC data)" if is_synthetic(results) else "reproduction"
    out = REFERENCE.copy()
    out[col] = [rep.get(k, np.nan) for k in out.index]
    out["difference"] = out[col] - out["study"]
    return out[["quantity", "units", "study", col, "difference", "check"]]
