"""The study's tables (Table 1, the zonal summaries behind Figs 1-9) and the yearly series."""
from __future__ import annotations

import weakref

import numpy as np
import pandas as pd
import xarray as xr

from .. import attribution, classify, zonal
from ..errors import NepInputError
from ..vocab import AREA_UNITS, DRIVERS, NEP_UNITS, REGION_NAME, SLOPE_UNITS
from .base import (AREA, SHARE, dataset, fdr_flags, fdr_level, in_region, landcover_names, need,
                   p_variants, province_names, region_shares, true_share)

# The yearly series read whole (year, y, x) cubes (~2.5 GB each at 500 m) that several tables and
# figures share: memoised per Dataset (dropped with it) with the Variable objects they came from, so
# replacing a variable (ds["nep"] = ...) recomputes the entry and a stale series is never returned.
_SERIES_MEMO: dict = {}


def _memo(ds: xr.Dataset, key: tuple, names: tuple, compute) -> pd.DataFrame:
    """``compute()``, memoised for ``ds`` under ``key`` while the variables ``names`` stay the same."""
    need(ds, *names)
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

    def compute():
        df = zonal.zonal_mean(ds["nep"], ds["cell_area"], ds["province"], names=province_names(ds),
                              total=REGION_NAME)
        return df.loc[[REGION_NAME, *[n for n in df.index if n != REGION_NAME]]]

    return _memo(ds, ("nep_series",), ("nep", "cell_area", "province"), compute)


def landcover_nep_series(results, lc_year: int = 2022) -> pd.DataFrame:
    """Area-weighted mean NEP per year for each land-cover class of ``lc_year`` (a fixed map, so a
    class's series follows the same pixels every year), g C m-2 a-1."""
    ds = dataset(results)

    def compute():
        lc = ds["landcover"].sel(lc_year=lc_year).where(in_region(ds), 0)
        return zonal.zonal_mean(ds["nep"], ds["cell_area"], lc, names=landcover_names(ds))

    return _memo(ds, ("landcover_nep_series", int(lc_year)), ("nep", "cell_area", "province", "landcover"),
                 compute)


def climate_series(results) -> pd.DataFrame:
    """NWC area-weighted annual mean of each climate driver (rows tmean, prcp, rad) by year."""
    ds = dataset(results)

    def compute():
        rows = {v: zonal.zonal_mean(ds[v].where(in_region(ds)), ds["cell_area"]).iloc[0] for v in DRIVERS}
        return pd.DataFrame(rows).T

    return _memo(ds, ("climate_series",), (*DRIVERS, "cell_area", "province"), compute)


def table1_trend_categories(results=None) -> pd.DataFrame:
    """Table 1: the Mann-Kendall trend categories (|Z| thresholds 1.645 / 1.960 / 2.576), as declared
    in ``nep_core.classify.TREND_CLASSES`` (the codes and labels of the stored ``trend_class``)."""
    return classify.TREND_CLASSES.copy()


def province_summary(results) -> pd.DataFrame:
    """Per province and for NWC: area (km2), area-weighted means of the per-pixel multi-year mean NEP
    (g C m-2 a-1) and Theil-Sen slope (g C m-2 a-2), OLS slope of the regional mean series (Fig 2's
    line, g C m-2 a-2) and the minimum and maximum yearly regional mean (g C m-2 a-1)."""
    ds = dataset(results)
    need(ds, "nep_mean", "trend_slope", "cell_area", "province")
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


def _zone_area(ds, zone, names: dict) -> pd.Series:
    """Area (km2) of each zone of ``names`` (index: the names) and of the whole region."""
    area = zonal.area_shares(zone, ds["cell_area"], codes=list(names), labels=names)
    col = pd.Series(area["area_km2"].to_numpy(), index=list(names.values()))
    col[REGION_NAME] = col.sum()
    return col


def _zone_means(ds, zone, names: dict) -> dict:
    """Area-weighted zonal means (and NWC) of the per-pixel mean NEP and Sen slope, by column name."""
    return {f"mean NEP ({NEP_UNITS})": zonal.zonal_mean(ds["nep_mean"], ds["cell_area"], zone,
                                                        names=names, total=REGION_NAME),
            f"mean Sen slope ({SLOPE_UNITS})": zonal.zonal_mean(ds["trend_slope"], ds["cell_area"], zone,
                                                                names=names, total=REGION_NAME)}


def drywet_summary(results, alpha: float = 0.05) -> pd.DataFrame:
    """Per dry/wet zone (200/400/800 mm isohyets) and for NWC, area weighted: area (km2), mean annual
    precipitation (mm a-1), mean NEP (g C m-2 a-1), mean Sen slope (g C m-2 a-2), significant
    increase (MK p < alpha, %), mean partial r of NEP with each driver (1) and its share p < alpha (%).
    """
    ds = dataset(results)
    need(ds, "drywet", "nep_mean", "trend_slope", "trend_p", "cell_area")
    names = zonal.class_labels(ds["drywet"])
    zone = ds["drywet"].where(in_region(ds), 0)

    def mean(da):
        return zonal.zonal_mean(da, ds["cell_area"], zone, names=names, total=REGION_NAME)

    def share(mask, valid):
        return 100 * mean(xr.where(valid, mask.astype(float), np.nan))

    out = {AREA: _zone_area(ds, zone, names)}
    if "prcp" in ds:
        out["mean annual precipitation (mm a-1)"] = mean(ds["prcp"].mean("year"))
    out.update(_zone_means(ds, zone, names))
    valid = np.isfinite(ds["trend_p"]) & np.isfinite(ds["trend_slope"])
    out[f"significant increase, p < {alpha} (%)"] = share((ds["trend_p"] < alpha) & (ds["trend_slope"] > 0),
                                                          valid)
    for v, label in (("tmean", "temperature"), ("prcp", "precipitation"), ("rad", "radiation")):
        if f"pcorr_r_{v}" in ds:
            out[f"mean partial r with {label} (1)"] = mean(ds[f"pcorr_r_{v}"])
            out[f"partial r with {label} p < {alpha} (%)"] = share(
                ds[f"pcorr_p_{v}"] < alpha, np.isfinite(ds[f"pcorr_p_{v}"]))
    df = pd.DataFrame(out)
    df.index.name = "dry/wet zone"
    return df.loc[[*(n for n in names.values() if n in df.index), REGION_NAME]]


def nep_class_shares(results) -> pd.DataFrame:
    """Fig 3a: area and share of the mean-NEP classes (source / low / medium / high sink)."""
    ds = dataset(results)
    need(ds, "nep_class", "cell_area")
    return region_shares(ds["nep_class"], ds)


def _fdr_classes(ds) -> xr.DataArray:
    """Trend classes, pixels failing map-level FDR moved to ``non significant increase/decrease``."""
    cls = ds["trend_class"]
    lab = zonal.class_labels(cls)
    if not lab:
        raise NepInputError("trend_class without flag_values / flag_meanings attributes",
                            variable="trend_class")
    by_label = {v: k for k, v in lab.items()}
    out = cls
    for code, label in lab.items():
        if "significant" in label and not label.startswith("non"):     # direction: the last word
            target = by_label[f"non significant {label.split()[-1]}"]
            out = xr.where((cls == code) & ~ds["trend_sig_fdr"].astype(bool), target, out)
    return out.astype(cls.dtype).assign_attrs(cls.attrs)


def trend_class_shares(results) -> pd.DataFrame:
    """Fig 3b / Table 1 shares: area per trend class by the per-pixel test (``share (%)``, the study's
    practice) and with pixels not significant under map-level BH FDR (``trend_sig_fdr``) moved to
    the non-significant class of the same direction (``share, FDR (%)``)."""
    ds = dataset(results)
    need(ds, "trend_class", "trend_sig_fdr", "cell_area")
    out = region_shares(ds["trend_class"], ds)
    out["share, FDR (%)"] = region_shares(_fdr_classes(ds), ds)[SHARE].to_numpy()
    return out


def trend_sensitivity(results, alpha: float = 0.05, fdr_alpha: float | None = None) -> pd.DataFrame:
    """Significant share (%) of the valid area under each Mann-Kendall variant (none, hamed_rao,
    yue_wang, tfpw): per pixel at ``alpha``, with Benjamini-Hochberg FDR at q = alpha (can only be
    smaller) and, when it differs, at q = ``fdr_alpha`` (default ``results.config.stats.fdr_alpha``
    or 2 alpha; after Wilks 2016 it may exceed the raw share). The stored ``trend_sig_fdr_<variant>``
    flags are used when stored at that level, else ``nep_core.stats.fdr`` computes them.
    """
    ds = dataset(results)
    fdr_alpha = fdr_level(results, fdr_alpha, alpha)
    rows = {}
    for name, p in p_variants(ds).items():
        inside = in_region(ds) & np.isfinite(p)
        row = {f"significant, p < {alpha} (%)": true_share(p < alpha, inside, ds)}
        for q in [alpha] if np.isclose(fdr_alpha, alpha) else [alpha, fdr_alpha]:
            row[f"significant, BH FDR q = {q} (%)"] = true_share(fdr_flags(ds, name, p, inside, q),
                                                                   inside, ds)
        rows[name] = row
    out = pd.DataFrame(rows).T
    out.index.name = "Mann-Kendall variant"
    return out


def cv_class_shares(results) -> pd.DataFrame:
    """Fig 4: area per coefficient-of-variation class with its Fisher-Jenks edges (the ``breaks`` of
    ``cv_class``); ``attrs["mean_cv"]`` is the area-weighted mean Cv."""
    ds = dataset(results)
    need(ds, "cv_class", "cv", "cell_area")
    out = region_shares(ds["cv_class"], ds)
    edges = ds["cv_class"].attrs.get("breaks")
    if edges is not None:
        edges = np.asarray(edges, float)
        if edges.size != len(out) + 1:
            raise NepInputError(f"cv_class has {len(out)} classes but {edges.size} break edges",
                                variable="cv_class")
        out.insert(2, "Cv from (1)", edges[:-1])
        out.insert(3, "Cv to (1)", edges[1:])
    out.attrs["mean_cv"] = float(zonal.zonal_mean(ds["cv"].where(in_region(ds)), ds["cell_area"]).iloc[0])
    return out


def landcover_areas(results, years=(2000, 2011, 2022)) -> pd.DataFrame:
    """Land-cover class areas (km2) and shares (%) in the given years, and the change in share
    (percentage points) between the first and the last of them."""
    ds = dataset(results)
    need(ds, "landcover", "cell_area")
    names = landcover_names(ds)
    cols = {}
    for yr in years:
        sh = region_shares(ds["landcover"].sel(lc_year=yr), ds, codes=list(names), labels=names)
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
    rows = {int(yr): region_shares(ds["landcover"].sel(lc_year=yr), ds, codes=list(names),
                             labels=names)[SHARE].to_numpy()
            for yr in ds["lc_year"].values}
    out = pd.DataFrame(rows, index=[f"{n} {SHARE}" for n in names.values()]).T
    out.index.name = "year"
    return out


def transition_table(results, year_from: int = 2000, year_to: int = 2022) -> pd.DataFrame:
    """Land-cover transition matrix (km2): rows = class in ``year_from``, columns = in ``year_to``."""
    ds = dataset(results)
    names = landcover_names(ds)
    m = zonal.transition_matrix(ds["landcover"].sel(lc_year=year_from).where(in_region(ds), 0),
                                ds["landcover"].sel(lc_year=year_to).where(in_region(ds), 0),
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
    lc = ds["landcover"].sel(lc_year=lc_year).where(in_region(ds), 0)
    out = pd.DataFrame({AREA: _zone_area(ds, lc, names), **_zone_means(ds, lc, names)}).drop(REGION_NAME)
    out[f"OLS slope of mean series ({SLOPE_UNITS})"] = zonal.linear_trend(
        landcover_nep_series(ds, lc_year))["slope"]
    out.index.name = f"land cover {lc_year}"
    return out


def persistence_shares(results) -> pd.DataFrame:
    """Fig 7: area shares of the trend x Hurst classes under the study's H = 0.5 rule and under the
    calibrated threshold (the null quantile of H for the same n and estimator)."""
    ds = dataset(results)
    need(ds, "persistence_class", "persistence_class_calibrated")
    a = region_shares(ds["persistence_class"], ds)
    b = region_shares(ds["persistence_class_calibrated"], ds, codes=a["class"].tolist())
    a = a.rename(columns={AREA: f"H > 0.5: {AREA}", SHARE: f"H > 0.5: {SHARE}"})
    thr = ds["persistence_class_calibrated"].attrs.get("threshold")
    tag = f"H > {float(thr):.3g}" if thr is not None else "calibrated"
    a[f"{tag}: {AREA}"] = b[AREA].to_numpy()
    a[f"{tag}: {SHARE}"] = b[SHARE].to_numpy()
    return a


def hurst_null_for(results, null: pd.DataFrame | None = None) -> pd.DataFrame | None:
    """The ``statistic == "quantile"`` rows of the Hurst null table (default
    ``results.tables["hurst_null"]``) for the configured ``hurst_method`` (where those columns exist)."""
    if null is None:
        null = getattr(results, "tables", {}).get("hurst_null")
    if null is None:
        return None
    cfg = getattr(results, "config", None)
    if "method" in null.columns and cfg is not None:
        null = null[null["method"] == cfg.stats.hurst_method]
    if "statistic" in null.columns:
        null = null[null["statistic"] == "quantile"]
    return null.dropna(subset=["quantile"])


def hurst_summary(results, null: pd.DataFrame | None = None, q: float | None = None) -> pd.DataFrame:
    """Persistent (H above threshold) and anti-persistent shares (%) under H = 0.5 and under the
    calibrated threshold (quantile ``q`` of H under iid noise, from ``null``: columns ``quantile``
    and ``hurst``, e.g. ``results.tables["hurst_null"]``)."""
    ds = dataset(results)
    need(ds, "hurst", "cell_area")
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
        "persistent (%)": [true_share(ds["hurst"] > t, np.isfinite(ds["hurst"]), ds)
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
        need(ds, f"pcorr_r_{v}", f"pcorr_p_{v}")
        r, p = ds[f"pcorr_r_{v}"], ds[f"pcorr_p_{v}"]
        ok = in_region(ds) & np.isfinite(r)
        sign = xr.where(ok, xr.where(r > 0, 1, xr.where(r < 0, 2, 3)), 0)
        sig = xr.where(ok, xr.where(p < alpha, sign, 3), 0)
        s1 = region_shares(sign, ds, codes=[1, 2, 3])[SHARE].to_numpy()
        s2 = region_shares(sig, ds, codes=[1, 2, 3])[SHARE].to_numpy()
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
    rows = [{"driver": name, "units": units, "mean": float(series.loc[v].mean()),
             "slope (units a-1)": float(trend.loc[v, "slope"]), "r2 (1)": float(trend.loc[v, "r2"])}
            for v, (name, units) in DRIVERS.items()]
    return pd.DataFrame(rows).set_index("driver")


# ------------------------------------------------------------------------------ trend attribution
def _attribution_table(ds, zone, names: dict, index_name: str) -> pd.DataFrame:
    """Area, mean climate / human parts of the NEP trend and the six scenario shares per zone + NWC."""
    need(ds, "attr_class", "attr_slope_climate", "attr_slope_human", "cell_area")
    cls = ds["attr_class"].where(in_region(ds), 0)
    zone = zone.where(cls > 0, 0)
    ok = cls > 0
    means = {}
    for var, col in (("attr_slope_climate", "climate part"), ("attr_slope_human", "human part"),
                     ("attr_time_slope_human", "human part, year-controlled fit")):
        if var in ds:
            means[f"mean {col} ({SLOPE_UNITS})"] = zonal.zonal_mean(ds[var].where(ok), ds["cell_area"], zone,
                                                                    names=names, total=REGION_NAME)
    out = pd.DataFrame({AREA: _zone_area(ds, zone, names), **means})
    c, h = (out[f"mean {p} part ({SLOPE_UNITS})"] for p in ("climate", "human"))
    out["human share of the mean trend (%)"] = 100.0 * h / (c + h)
    table = attribution.ATTRIBUTION_CLASSES[attribution.ATTRIBUTION_CLASSES["code"] > 0]
    codes, labels = table["code"].tolist(), dict(zip(table["code"], table["label"]))
    shares = zonal.area_shares(cls, ds["cell_area"], groups=zone, codes=codes, group_names=names).pivot(
        index="group", columns="class", values="share_pct")
    total = zonal.area_shares(cls, ds["cell_area"], codes=codes)
    shares.loc[REGION_NAME] = total.set_index("class")["share_pct"]
    for code, label in labels.items():
        out[f"{label} (%)"] = shares[code]
    out.index.name = index_name
    return out


def attribution_by_province(results) -> pd.DataFrame:
    """Climate and human parts of the NEP trend per province and for NWC (``nep_core.attribution``).

    Over the pixels with an attribution class (``attr_class`` > 0): area (km2), area-weighted mean
    climate and human parts (g C m-2 a-2; the human part also from the year-controlled fit when
    stored), the human share of the mean trend (100 h / (c + h), %) and the area share (%) of each
    of the six scenarios of ``attribution.ATTRIBUTION_CLASSES``.
    """
    ds = dataset(results)
    return _attribution_table(ds, ds["province"], province_names(ds), "region")


def attribution_by_landcover(results, lc_year: int = 2022) -> pd.DataFrame:
    """:func:`attribution_by_province` per land-cover class of ``lc_year`` (and NWC)."""
    ds = dataset(results)
    need(ds, "landcover")
    lc = ds["landcover"].sel(lc_year=lc_year).where(in_region(ds), 0)
    return _attribution_table(ds, lc, landcover_names(ds), f"land cover {lc_year}")


def attribution_class_shares(results, var: str = "attr_class") -> pd.DataFrame:
    """Area and share of the six scenarios of the NEP-trend attribution (``var``) over NWC."""
    ds = dataset(results)
    need(ds, var, "cell_area")
    return region_shares(ds[var], ds)
