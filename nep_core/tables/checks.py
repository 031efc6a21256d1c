"""Checks of the reproduction: station QC and interpolation, recovery of the planted truth
(synthetic scenario) and the study's reported numbers beside this reproduction's."""
from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd
import xarray as xr

from .. import zonal
from ..errors import NepInputError
from ..grid import data_path
from ..vocab import DRIVERS, NEP_UNITS, REGION_NAME, SLOPE_UNITS
from .base import (AREA, SHARE, dataset, fdr_flags, fdr_level, in_region, is_synthetic, p_variants,
                   planted_truth, true_share)
from .study import (climate_trends, cv_class_shares, hurst_summary, landcover_areas, landcover_changes,
                    landcover_nep, nep_class_shares, partial_corr_shares, persistence_shares,
                    province_summary, trend_class_shares)


def qc_table(results) -> pd.DataFrame:
    """Station QC flag counts per variable with readable column names (``results.tables["qc_summary"]``)."""
    qc = results.tables["qc_summary"].copy()
    qc = qc.set_index("variable") if "variable" in qc.columns else qc
    ren = {c: c.split("_", 1)[1].replace("_", " ") + " (values)" for c in qc.columns if c[:1].isdigit()}
    ren.update({"n_values": "station-months (values)", "n_filled": "filled by kriging (values)"})
    return qc.rename(columns=ren)


def qc_validation(results, faults: pd.DataFrame | None = None) -> pd.DataFrame:
    """Synthetic data only: QC and kriging fill against the planted station faults (``faults``,
    default ``results.tables["station_faults"]``: station, date YYYY-MM, variable, kind missing |
    outlier, clean_value). Per variable: planted outliers and the share flagged (%), clean values
    flagged (%), and the fill of every planted fault against the clean value: RMSE and bias (in
    ``units``, per station-month) and the share within 1.96 kriging standard deviations (%)."""
    faults = results.tables.get("station_faults") if faults is None else faults
    if faults is None:
        raise NepInputError("no planted station faults (only the synthetic scenario has them)",
                            variable="station_faults")
    st = results.stations
    times = pd.Index(pd.DatetimeIndex(st["time"].values).strftime("%Y-%m"))
    stations = pd.Index([str(s) for s in st["station"].values])
    rows = {}
    for var in ("tmean", "prcp", "rad"):
        f = faults[faults["variable"] == var]
        si = stations.get_indexer([str(s) for s in f["station"]])          # -1: not in the station set
        ti = times.get_indexer([str(d) for d in f["date"]])
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
        inside = in_region(ds)
        w = ds["cell_area"].where(inside)
        for v in out.index:
            if v in truth and v in ds:
                d = (ds[v] - truth[v]).where(inside)
                ww = w.where(np.isfinite(d))
                total = ww.sum()                        # over (year, y, x): already counts every year
                out.loc[v, "annual grid RMSE vs planted truth"] = float(np.sqrt((d ** 2 * ww).sum() / total))
                out.loc[v, "annual grid bias vs planted truth"] = float((d * ww).sum() / total)
                out.loc[v, "annual units"] = ds[v].attrs.get("units", "")
    out.index.name = "variable"
    return out


def trend_false_positives(results, alpha: float = 0.05, fdr_alpha: float | None = None,
                          truth: xr.Dataset | None = None) -> pd.DataFrame:
    """Synthetic data only, per Mann-Kendall variant: planted-zero-trend pixels, their false-positive
    rate p < alpha (%, near 100 alpha), the false discovery proportion after BH at ``fdr_alpha`` (%,
    at most 100 q) and the power: share of planted-trend pixels that are BH-significant (%)."""
    ds = dataset(results)
    planted = planted_truth(results, truth, "trend_slope")["trend_slope"].values
    fdr_alpha = fdr_level(results, fdr_alpha, alpha)
    rows = {}
    for name, p in p_variants(ds).items():
        inside = (in_region(ds) & np.isfinite(p)).values & np.isfinite(planted)
        null = inside & (planted == 0)
        fsig = fdr_flags(ds, name, p, xr.DataArray(inside, dims=p.dims), fdr_alpha).values & inside
        rows[name] = {"planted-zero pixels": int(null.sum()),
                      f"false-positive rate, p < {alpha} (%)":
                          100 * np.mean(p.values[null] < alpha) if null.any() else np.nan,
                      f"false discovery proportion, BH q = {fdr_alpha} (%)":
                          100 * (fsig & null).sum() / max(fsig.sum(), 1),
                      f"power, BH q = {fdr_alpha} (%)": 100 * fsig[inside & ~null].mean()}
    out = pd.DataFrame(rows).T
    out.index.name = "Mann-Kendall variant"
    return out


def truth_recovery(results, truth: xr.Dataset | None = None, var: str = "trend_slope") -> pd.DataFrame:
    """Planted vs recovered per-pixel slope: bias, RMSE (g C m-2 a-2), correlation and the share of
    pixels whose recovered sign matches the planted one (synthetic scenario only)."""
    ds = dataset(results)
    truth = planted_truth(results, truth, var)
    est = ds[var].where(in_region(ds))
    tru = truth[var]
    ok = np.isfinite(est) & np.isfinite(tru)
    err = (est - tru).where(ok)
    w = ds["cell_area"].where(ok)
    bias = float((err * w).sum() / w.sum())
    rmse = float(np.sqrt((err ** 2 * w).sum() / w.sum()))
    r = float(xr.corr(est.where(ok), tru.where(ok)))
    units = ds[var].attrs.get("units", "")
    return pd.DataFrame({f"bias ({units})": [bias], f"RMSE ({units})": [rmse], "Pearson r (1)": [r],
                         "sign agreement (%)": [true_share(np.sign(est) == np.sign(tru), ok, ds)]},
                        index=pd.Index([var], name="quantity"))


#: Numbers the study reports (STUDY.md), indexed by ``key``: ``quantity``, ``study`` (the value),
#: ``units``, ``check`` (what is wrong with a number on the study's own terms). Reference data, not results.
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
    tc = trend_class_shares(ds)
    s = tc[SHARE]
    inc, dec = tc["label"].str.endswith("increase"), tc["label"].str.endswith("decrease")
    sig = tc["label"].str.match(r"^(extremely )?significant")
    out.update({"trend_inc": s[inc].sum(), "trend_dec": s[dec].sum(),
                "trend_sig_inc": s[inc & sig].sum(), "trend_sig_dec": s[dec & sig].sum()})
    cv = cv_class_shares(ds)
    out.update({f"cv_{i}": v for i, v in enumerate(cv[SHARE].to_numpy(), start=1)})
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
    ct, pc = climate_trends(ds), partial_corr_shares(ds)
    for v, (name, _) in DRIVERS.items():
        out[f"clim_{v}"] = ct.loc[name, "slope (units a-1)"]
        for tag, share in zip(("pos", "neg", "sigpos", "signeg"), pc.loc[name]):   # the columns in order
            out[f"pc_{v}_{tag}"] = share
    return {k: float(v) for k, v in out.items()}


def study_vs_reproduction(results) -> pd.DataFrame:
    """The study's reported numbers beside this reproduction's (``reproduction (SYNTHETIC data)`` on
    the embedded scenario), the ``difference`` (reproduction - study) and ``check`` (what cannot be
    right on the study's own terms; empty when consistent)."""
    rep = _reproduced(results)
    col = "reproduction (SYNTHETIC data)" if is_synthetic(results) else "reproduction"
    out = REFERENCE.copy()
    out[col] = [rep.get(k, np.nan) for k in out.index]
    out["difference"] = out[col] - out["study"]
    cols = ["quantity", "units", "study", col, "difference", "check"]
    mc = results.tables.get("uncertainty_headlines") if hasattr(results, "tables") else None
    if mc is not None:
        mc = mc.set_index("key")
        for c in ("p05", "p95"):
            out[f"Monte Carlo {c}"] = mc[c].reindex(out.index)
        cols[4:4] = ["Monte Carlo p05", "Monte Carlo p95"]
    return out[cols]


def uncertainty_table(results) -> pd.DataFrame:
    """The Monte Carlo intervals of the headline numbers (``results.tables["uncertainty_headlines"]``,
    :mod:`nep_core.uncertainty`) and, on the synthetic scenario, the planted truth's value of each.

    Columns: ``quantity``, ``unit``, ``point estimate`` (the main run), ``median``, ``p05``, ``p95``
    (the 90 % interval), ``n_draws``; with a planted truth also ``planted truth`` (the same headline of
    the true NEP, :func:`nep_core.uncertainty.truth_values`) and ``truth in 90 % interval``.
    """
    from .. import uncertainty
    from ..config import Stats

    t = results.tables.get("uncertainty_headlines")
    if t is None:
        raise NepInputError("no Monte Carlo table (the uncertainty stage did not run)",
                            variable="uncertainty_headlines")
    out = t.set_index("key")[["quantity", "unit", "point estimate", "median", "p05", "p95", "n_draws"]]
    truth = getattr(results, "truth", None)
    if truth is not None and "nep" in truth:
        cfg = getattr(results, "config", None)
        tv = uncertainty.truth_values(truth, dataset(results)["cell_area"], cfg.stats if cfg else Stats())
        out["planted truth"] = tv["value"].reindex(out.index)
        tru = out["planted truth"]
        inside = (out["p05"] <= tru) & (tru <= out["p95"])
        out["truth in 90 % interval"] = inside.astype(object).where(tru.notna())   # NaN: no planted value
    return out


#: planted truth of each recovered part of the NEP trend (``nep_core.attribution``)
ATTRIBUTION_TRUTH = {"climate": "nep_slope_planted_climate", "human": "nep_slope_planted_human"}
#: the stored variants: results-store prefix -> label
ATTRIBUTION_VARIANTS = {"attr_": "RESTREND (drivers only)", "attr_time_": "year-controlled fit"}


def attribution_recovery(results, truth: xr.Dataset | None = None) -> pd.DataFrame:
    """Recovered vs planted climate and human parts of the NEP trend (synthetic scenario only).

    Per stored variant (``ATTRIBUTION_VARIANTS``), part and planted region (all pixels and each of
    ``truth.human_region``'s regions): the area-weighted planted and recovered means, bias, RMSE
    (g C m-2 a-2), Pearson r and sign agreement of :func:`truth_recovery`. Pixels: in the region,
    both values finite, land cover unchanged 2000-2022 (the planted parts exclude the steps of
    land-cover change) and outside the no-trend box (where the human part only cancels the climate
    part).
    """
    ds = dataset(results)
    truth = planted_truth(results, truth, "nep_slope_planted_human")
    lc = truth["landcover"]
    keep = (lc.isel(lc_year=0) == lc.isel(lc_year=-1)) & (truth["no_trend_mask"] == 0)
    region = truth["human_region"]
    regions = {0: "all pixels", **zonal.class_labels(region)}
    rows = []
    for prefix, label in ATTRIBUTION_VARIANTS.items():
        for part, tvar in ATTRIBUTION_TRUTH.items():
            var = f"{prefix}slope_{part}"
            if var not in ds:
                continue
            for code, rname in regions.items():
                mask = keep if code == 0 else keep & (region == code)
                tru = truth[tvar].where(mask)
                ok = np.isfinite(ds[var]) & np.isfinite(tru) & in_region(ds)
                w = ds["cell_area"].where(ok)
                rec = truth_recovery(ds, xr.Dataset({var: tru}), var)
                rows.append({"variant": label, "part": part, "planted region": rname,
                             f"planted mean ({SLOPE_UNITS})": float((tru * w).sum() / w.sum()),
                             f"recovered mean ({SLOPE_UNITS})": float((ds[var] * w).sum() / w.sum()),
                             **rec.iloc[0].to_dict()})
    return pd.DataFrame(rows).set_index(["variant", "part", "planted region"])
