"""The book's additions: trend-test sensitivity, the Hurst null, the Rh sensitivity, planted-truth
recovery, the climate / human attribution and the Monte Carlo intervals."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import tables
from ..errors import NepInputError
from ..vocab import SLOPE_UNITS
from ._common import OKABE_ITO, class_map, imshow, inside, map_ax, nodata, outlines


def fig_trend_sensitivity(results, alpha: float = 0.05, fdr_alpha: float | None = None):
    """Significant-trend area (%) under each Mann-Kendall variant, per-pixel and with BH FDR."""
    tab = tables.trend_sensitivity(results, alpha, fdr_alpha)
    fig, ax = plt.subplots(figsize=(8.5, 4.2), layout="constrained")
    x = np.arange(len(tab))
    k_n = len(tab.columns)
    width = 0.8 / k_n
    for k, (col, color) in enumerate(zip(tab.columns, ["#56B4E9", "#0072B2", "#E69F00"])):
        bars = ax.bar(x + (k - (k_n - 1) / 2) * width, tab[col].to_numpy(), width=width, color=color,
                      label=col)
        ax.bar_label(bars, fmt="%.1f", fontsize=7)
    ax.set_xticks(x, tab.index)
    ax.set(ylabel="significant trend area (% of valid area)",
           xlabel="Mann-Kendall variant (autocorrelation correction)")
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(axis="y", alpha=0.3)
    return fig


def fig_hurst_null(results, null: pd.DataFrame | None = None, bins: int = 40):
    """Distribution of the per-pixel Hurst exponent (1) with the null quantiles of H (``null``,
    default ``results.tables["hurst_null"]``: iid noise, same n and estimator), and the persistent
    share by H > 0.5 vs calibrated."""
    ds = tables.dataset(results)
    null = tables.hurst_null_for(results, null)
    summary = tables.hurst_summary(results, null=null)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.2), width_ratios=[1.6, 1], layout="constrained")
    h = ds["hurst"].values[inside(ds)]
    w = ds["cell_area"].values[inside(ds)][np.isfinite(h)]
    ax.hist(h[np.isfinite(h)], bins=bins, weights=100 * w / w.sum(), color="#56B4E9", edgecolor="white")
    ax.axvline(0.5, color="#D55E00", lw=1.5, label="H = 0.5 (the study's rule)")
    if null is not None:
        for i, (_, row) in enumerate(null.iterrows()):
            ax.axvline(row["hurst"], color="k", ls=(0, (4, 2 + i)), lw=1,
                       label=f"null q{row['quantile']:g} = {row['hurst']:.3f}")
    ax.set(xlabel=f"Hurst exponent H (1), {ds['hurst'].attrs.get('long_name', '')}",
           ylabel="share of area per bin (%)")
    ax.legend(fontsize=7, frameon=False)
    bars = ax2.bar(range(len(summary)), summary["persistent (%)"].to_numpy(),
                   color=["#D55E00", "#0072B2"][:len(summary)])
    ax2.bar_label(bars, fmt="%.1f %%", fontsize=8)
    ax2.set_xticks(range(len(summary)), [s.split(" (")[0] for s in summary.index], fontsize=7)
    ax2.set(ylabel="persistent area (%)", ylim=(0, 100))
    ax2.set_title("persistent share: study rule vs calibrated", fontsize=9)
    return fig


def fig_rh_sensitivity(table: pd.DataFrame):
    """Rh-parameter sensitivity: one panel per metric column of ``table`` (names carry units, e.g.
    ``"sink_share_pct"``) against ``change_pct`` of each ``parameter``."""
    need = {"parameter", "change_pct"}
    if not need <= set(table.columns):
        raise NepInputError(f"Rh sensitivity table needs columns {sorted(need)}", variable="rh_sensitivity")
    skip = need | {"parameter value", "nep_mean_change_pct"}
    metrics = [c for c in table.columns if c not in skip and pd.api.types.is_numeric_dtype(table[c])]
    if not metrics:
        raise NepInputError("Rh sensitivity table has no metric column", variable="rh_sensitivity")
    ncol = 2 if len(metrics) > 3 else len(metrics)
    nrow = -(-len(metrics) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(5 * ncol, 3.6 * nrow), layout="constrained",
                             squeeze=False)
    for ax in axes.ravel()[len(metrics):]:
        ax.set_visible(False)
    for ax, m in zip(axes.ravel(), metrics):
        for i, (p, sub) in enumerate(table.groupby("parameter", sort=False)):
            sub = sub.sort_values("change_pct")
            ax.plot(sub["change_pct"], sub[m], "o-", color=OKABE_ITO[i % 9], label=str(p))
        ax.set(xlabel="change of the Rh parameter (%)", ylabel=m.replace("_", " "))
        ax.grid(alpha=0.3)
        ax.legend(title="parameter", fontsize=7, title_fontsize=8, frameon=False)
    return fig


def fig_truth_vs_recovered(results, truth=None, var: str = "trend_slope", gridsize: int = 40):
    """Planted vs recovered per-pixel value (synthetic scenario): hexbin with the 1:1 line, and the
    recovery summary (bias, RMSE, r, sign agreement) from :func:`nep_core.tables.truth_recovery`."""
    ds = tables.dataset(results)
    truth = getattr(results, "truth", None) if truth is None else truth
    summary = tables.truth_recovery(results, truth, var)
    units = ds[var].attrs.get("units", "")
    est = ds[var].values[inside(ds)]
    tru = truth[var].values[inside(ds)]
    ok = np.isfinite(est) & np.isfinite(tru)
    fig, ax = plt.subplots(figsize=(6, 5), layout="constrained")
    hb = _recovery_hexbin(ax, tru[ok], est[ok], gridsize, summary.iloc[0], fontsize=8)
    fig.colorbar(hb, ax=ax, label="pixels per hexagon (count)")
    ax.set(xlabel=f"planted {var} ({units})", ylabel=f"recovered {var} ({units})")
    return fig


def _recovery_hexbin(ax, tru, est, gridsize: int, numbers: pd.Series, fontsize: float):
    """Hexbin of recovered against planted values, the 1:1 line and the recovery ``numbers``."""
    hb = ax.hexbin(tru, est, gridsize=gridsize, mincnt=1, cmap="viridis", bins="log")
    lo, hi = np.nanmin(np.r_[tru, est]), np.nanmax(np.r_[tru, est])
    ax.plot([lo, hi], [lo, hi], color="#D55E00", lw=1.2, label="1:1")
    ax.text(0.02, 0.98, "\n".join(f"{k}: {v:.3g}" for k, v in numbers.items()), transform=ax.transAxes,
            va="top", fontsize=fontsize, bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "0.7"})
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    return hb


def fig_attribution_maps(results, provinces=None, prefix: str = "attr_"):
    """Dominant driver of the NEP trend (six scenarios, area shares) and the contribution maps:
    climate and human parts of the Theil-Sen trend (g C m-2 a-2, BrBG, one symmetric scale) and the
    human contribution (%); ``prefix`` selects the stored variant (``attr_`` = RESTREND)."""
    ds = tables.dataset(results)
    provinces = getattr(results, "provinces", None) if provinces is None else provinces
    fig = plt.figure(figsize=(13, 10), layout="constrained")
    ax = map_ax(fig, 2, 2, 1)
    class_map(ax, ds, f"{prefix}class", tables.attribution_class_shares(ds, f"{prefix}class"),
              "Dominant driver of the NEP trend", "scenario, share of area", provinces, legend_below=True)
    parts = [ds[f"{prefix}slope_{p}"].where(ds["province"] > 0) for p in ("climate", "human")]
    lim = float(np.nanquantile(np.abs(np.concatenate([p.values.ravel() for p in parts])), 0.98))
    share = ds[f"{prefix}share_human"].where(ds["province"] > 0)
    slope = {"cmap": "BrBG", "vmin": -lim, "vmax": lim}
    panels = [(parts[0], "climate part of the NEP trend", slope, f"Theil-Sen slope ({SLOPE_UNITS})"),
              (parts[1], "human part of the NEP trend", slope, f"Theil-Sen slope ({SLOPE_UNITS})"),
              (share, "human contribution to the NEP trend", {"cmap": "cividis", "vmin": 0, "vmax": 100},
               "human contribution (%)")]
    for i, (da, title, style, label) in enumerate(panels):
        ax = map_ax(fig, 2, 2, 2 + i)
        nodata(ax, ds, da.values)
        img = imshow(ax, ds, da.values, **style)
        outlines(ax, ds, provinces)
        ax.set_title(title, fontsize=10)
        fig.colorbar(img, ax=ax, orientation="horizontal", shrink=0.7, pad=0.02, label=label)
    return fig


def fig_attribution_recovery(results, truth=None, gridsize: int = 40):
    """Planted vs recovered human part of the NEP trend for each stored variant (synthetic scenario):
    hexbins with the 1:1 line and the recovery numbers of :func:`nep_core.tables.attribution_recovery`
    (pixels with unchanged land cover, outside the no-trend box)."""
    ds = tables.dataset(results)
    truth = getattr(results, "truth", None) if truth is None else truth
    rec = tables.attribution_recovery(results, truth)
    tvar = tables.ATTRIBUTION_TRUTH["human"]
    lc = truth["landcover"]
    keep = ((lc.isel(lc_year=0) == lc.isel(lc_year=-1)) & (truth["no_trend_mask"] == 0)).values & inside(ds)
    variants = [(p, lab) for p, lab in tables.ATTRIBUTION_VARIANTS.items() if f"{p}slope_human" in ds]
    fig, axes = plt.subplots(1, len(variants), figsize=(5.6 * len(variants), 5), layout="constrained",
                             squeeze=False)
    tru_all = truth[tvar].values
    for ax, (prefix, label) in zip(axes[0], variants):
        est = ds[f"{prefix}slope_human"].values
        ok = keep & np.isfinite(est) & np.isfinite(tru_all)
        hb = _recovery_hexbin(ax, tru_all[ok], est[ok], gridsize, rec.loc[(label, "human", "all pixels")],
                              fontsize=7)
        ax.set_title(label, fontsize=10)
        ax.set_xlabel(f"planted human part ({SLOPE_UNITS})")
        ax.set_ylabel(f"recovered human part ({SLOPE_UNITS})")
    fig.colorbar(hb, ax=axes[0].tolist(), label="pixels per hexagon (count)")
    return fig


def fig_uncertainty(results, bins: int = 15):
    """Monte Carlo draws of each headline number (``results.tables["uncertainty_draws"]``): one panel per
    quantity with the histogram of the draws, the 90 % interval (shaded), the point estimate of the main
    run and, on the synthetic scenario, the planted truth (from :func:`nep_core.tables.uncertainty_table`)."""
    import textwrap

    draws = results.tables.get("uncertainty_draws")
    if draws is None or not {"key", "value"} <= set(draws.columns):
        raise NepInputError("no Monte Carlo draws table with columns key, value",
                            variable="uncertainty_draws")
    summary = tables.uncertainty_table(results)
    keys = [k for k in summary.index if k in set(draws["key"])]
    if not keys:
        raise NepInputError("the Monte Carlo draws table has no draw", variable="uncertainty_draws")
    ncol = min(4, len(keys))
    nrow = -(-len(keys) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 2.6 * nrow), layout="constrained",
                             squeeze=False)
    for ax in axes.ravel()[len(keys):]:
        ax.remove()
    for ax, k in zip(axes.ravel(), keys):
        row = summary.loc[k]
        ax.axvspan(row["p05"], row["p95"], color=OKABE_ITO[1], alpha=0.25, lw=0, label="90 % interval")
        ax.hist(draws.loc[draws["key"] == k, "value"], bins=bins, color=OKABE_ITO[4], alpha=0.8,
                label="draws")
        ax.axvline(row["point estimate"], color="black", lw=1.5, label="point estimate")
        if "planted truth" in row and np.isfinite(row["planted truth"]):
            ax.axvline(row["planted truth"], color=OKABE_ITO[5], lw=1.5, ls="--", label="planted truth")
        ax.set_title(textwrap.fill(row["quantity"], 36), fontsize=8)
        ax.set_xlabel(row["unit"], fontsize=8)
        ax.set_ylabel("draws (count)", fontsize=8)
        ax.tick_params(labelsize=7)
    axes.ravel()[0].legend(fontsize=6, frameon=False)
    return fig
