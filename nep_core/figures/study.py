"""The study's figures 1-9."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch, PathPatch, Rectangle
from matplotlib.path import Path

from .. import tables, zonal
from ..vocab import DRIVERS, NEP_UNITS, SLOPE_UNITS
from ._common import (LC_COLORS, OKABE_ITO, PROVINCE_COLORS, albers, class_map, gridlines,
                      imshow, inside, map_ax, nodata, outlines)


def fig1_study_area(results, stations=None, provinces=None):
    """Fig 1: study area -- elevation (m), province outlines, dry/wet zone boundaries and the
    stations (``x`` / ``y`` in Albers m; default ``results.stations``)."""
    ds = tables.dataset(results)
    stations = getattr(results, "stations", None) if stations is None else stations
    provinces = getattr(results, "provinces", None) if provinces is None else provinces
    fig = plt.figure(figsize=(8.5, 5.5), layout="constrained")
    ax = map_ax(fig, 1, 1, 1)
    elev = np.where(inside(ds), ds["elevation"].values, np.nan)
    img = imshow(ax, ds, elev, cmap="cividis")
    fig.colorbar(img, ax=ax, shrink=0.7, label=f"elevation ({ds['elevation'].attrs.get('units', 'm')})")
    outlines(ax, ds, provinces, color="white", lw=1.0)
    dw = ds["drywet"].values.astype(float)
    zones = zonal.class_labels(ds["drywet"])
    handles = [Patch(facecolor="none", edgecolor="white", label="province boundary")]
    if np.unique(dw[dw > 0]).size > 1:
        ax.contour(ds["x"].values, ds["y"].values, np.where(inside(ds), dw, np.nan),
                   levels=np.arange(1.5, dw.max()), colors=["#E69F00"], linewidths=1.2,
                   linestyles="--", transform=albers())
        handles.append(plt.Line2D([], [], color="#E69F00", ls="--",
                                  label="dry/wet zone boundary" + (
                                      f" ({', '.join(zones.values())})" if zones else "")))
    if stations is not None and "x" in stations.coords:
        ax.scatter(stations["x"].values, stations["y"].values, s=10, marker="^", color="#D55E00",
                   edgecolor="k", linewidth=0.3, transform=albers(), zorder=5)
        handles.append(plt.Line2D([], [], marker="^", color="#D55E00", ls="",
                                  label=f"climate stations (n = {stations.sizes['station']})"))
    ax.legend(handles=handles, loc="lower left", fontsize=7, facecolor="0.85", framealpha=0.9)
    gridlines(ax)
    area = tables.province_summary(ds)[tables.AREA]
    ax.set_title("Northwest China: elevation, provinces, dry/wet zones and stations\n"
                 + ", ".join(f"{n} {a / 1e3:,.0f}" for n, a in area.items()) + " (10^3 km2)",
                 fontsize=9)
    return fig


def fig2_nep_series(results):
    """Fig 2: yearly area-weighted mean NEP (g C m-2 a-1), one panel per region (NWC first), with the
    OLS line and its slope (g C m-2 a-2) in the legend."""
    series = tables.nep_series(results)
    trend = zonal.linear_trend(series)
    nrow = int(np.ceil(len(series) / 3))
    fig, axes = plt.subplots(nrow, 3, figsize=(10, 3 * nrow), sharex=True, layout="constrained",
                             squeeze=False)
    years = series.columns.to_numpy(dtype=float)
    for ax, (name, row) in zip(axes.ravel(), series.iterrows()):
        col = PROVINCE_COLORS.get(name, "0.2")
        ax.plot(years, row.to_numpy(), "o-", color=col, ms=3, lw=1.2, label="mean NEP")
        s, b = trend.loc[name, "slope"], trend.loc[name, "intercept"]
        ax.plot(years, b + s * years, "--", color="0.3", lw=1,
                label=f"OLS: {s:+.2f} {SLOPE_UNITS}, R2 = {trend.loc[name, 'r2']:.2f}")
        ax.set_title(name, fontsize=10)
        ax.set_ylabel(f"NEP ({NEP_UNITS})", fontsize=8)
        ax.legend(fontsize=7, loc="upper left", frameon=False)
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[len(series):]:
        ax.remove()
    for ax in axes[-1]:
        ax.set_xlabel("year")
    return fig


def _class_figure(results, provinces, width: float, var: str, shares, title: str, legend_title: str,
                  labels=None):
    """A figure of one class map (:func:`class_map`) with gridlines."""
    provinces = getattr(results, "provinces", None) if provinces is None else provinces
    fig = plt.figure(figsize=(width, 5), layout="constrained")
    ax = map_ax(fig, 1, 1, 1)
    class_map(ax, tables.dataset(results), var, shares, title, legend_title, provinces, labels)
    gridlines(ax)
    return fig


def fig3a_nep_mean_map(results, provinces=None):
    """Fig 3a: multi-year mean NEP classes (source < 0, low sink 0-200, medium 200-400, high >= 400
    g C m-2 a-1) with the area share of each class."""
    return _class_figure(results, provinces, 9, "nep_class", tables.nep_class_shares(results),
                         "Multi-year mean NEP class", f"mean NEP class ({NEP_UNITS}), share of area")


def fig3b_trend_map(results, provinces=None):
    """Fig 3b: Theil-Sen + Mann-Kendall trend classes of NEP (Table 1) with area shares
    (per-pixel test; the FDR-controlled shares are in the trend-class table)."""
    return _class_figure(results, provinces, 9.5, "trend_class", tables.trend_class_shares(results),
                         "NEP trend class (Table 1)", f"trend of NEP ({SLOPE_UNITS}), share of area")


def fig4_cv_map(results, provinces=None):
    """Fig 4: coefficient of variation of NEP in five Fisher-Jenks classes, with edges and shares."""
    shares = tables.cv_class_shares(results)
    if "Cv from (1)" in shares:
        shares = shares.assign(label=[f"{lab} [{a:.3f}, {b:.3f})" for lab, a, b in
                                      zip(shares["label"], shares["Cv from (1)"], shares["Cv to (1)"])])
    return _class_figure(results, provinces, 9.5, "cv_class", shares,
                         f"Cv of NEP (mean {shares.attrs['mean_cv']:.3f})",
                         "Cv class (1, Fisher-Jenks edges), share of area",
                         labels=dict(zip(shares["class"], shares["label"])))


def _ribbon(ax, x0, y0a, y0b, x1, y1a, y1b, color, alpha=0.45):
    """A Sankey flow: a band bounded by two cubic Bezier curves from (x0, [y0a, y0b]) to
    (x1, [y1a, y1b])."""
    xm = (x0 + x1) / 2
    verts = [(x0, y0a), (xm, y0a), (xm, y1a), (x1, y1a),
             (x1, y1b), (xm, y1b), (xm, y0b), (x0, y0b), (x0, y0a)]
    codes = [Path.MOVETO, Path.CURVE4, Path.CURVE4, Path.CURVE4,
             Path.LINETO, Path.CURVE4, Path.CURVE4, Path.CURVE4, Path.CLOSEPOLY]
    ax.add_patch(PathPatch(Path(verts, codes), facecolor=color, edgecolor="none", alpha=alpha))


def fig5_landcover_sankey(results, years=(2000, 2011, 2022), min_share: float = 0.0):
    """Fig 5: land-cover transitions between ``years`` as a Sankey diagram (areas from the
    transition matrices; flows under ``min_share`` % of the area are not drawn but stay in the node
    bars) and the stacked class shares (%) of every land-cover year."""
    ds = tables.dataset(results)
    names = tables.landcover_names(ds)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 5.5), width_ratios=[1.6, 1], layout="constrained")
    colors = {n: LC_COLORS.get(n, OKABE_ITO[i % 9]) for i, n in enumerate(names.values())}
    mats = [tables.transition_table(ds, a, b) for a, b in zip(years[:-1], years[1:])]
    total = float(mats[0].to_numpy().sum())
    gap = 0.012 * total
    width = 0.06
    node_tops = []
    for j, yr in enumerate(years):
        areas = mats[0].sum(axis=1) if j == 0 else mats[j - 1].sum(axis=0)
        top = {}
        y = 0.0
        for name, a in zip(names.values(), areas.to_numpy(dtype=float)):
            ax.add_patch(Rectangle((j - width / 2, y), width, a, facecolor=colors[name], edgecolor="0.3",
                                   linewidth=0.4))
            if a / total > 0.02:
                ax.text(j + (width / 2 + 0.01) * (1 if j < len(years) - 1 else -1), y + a / 2,
                        f"{name} {100 * a / total:.1f} %", va="center", fontsize=7,
                        ha="left" if j < len(years) - 1 else "right")
            top[name] = y
            y += a + gap
        node_tops.append(top)
    for j, m in enumerate(mats):
        out_off, in_off = dict(node_tops[j]), dict(node_tops[j + 1])
        for src in m.index:
            for dst in m.columns:
                a = float(m.loc[src, dst])
                if a > 0 and 100 * a / total >= min_share:
                    _ribbon(ax, j + width / 2, out_off[src], out_off[src] + a, j + 1 - width / 2,
                            in_off[dst], in_off[dst] + a, colors[src])
                out_off[src] += a
                in_off[dst] += a
    ax.set_xlim(-0.3, len(years) - 0.7)
    ax.set_ylim(-gap, total + gap * (len(names) + 1))
    ax.invert_yaxis()
    ax.set_xticks(range(len(years)), [str(y) for y in years])
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ch = tables.landcover_changes(ds, years)
    ax.set_title("Land-cover transitions (band width = area, km2); changed: " + ", ".join(
        f"{p} {v:.2f} %" for p, v in ch["changed share (%)"].items()), fontsize=9)
    by_year = tables.landcover_shares_by_year(ds)
    bottom = np.zeros(len(by_year))
    for name in names.values():
        v = by_year[f"{name} share (%)"].to_numpy()
        ax2.bar(by_year.index, v, bottom=bottom, color=colors[name], width=0.85, label=name)
        bottom += v
    ax2.set(ylabel="share of the region (%)", xlabel="year", ylim=(0, 100))
    ax2.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False,
               title="land cover", title_fontsize=8)
    ax2.set_title("Land-cover class shares per year", fontsize=9)
    return fig


def fig6_nep_by_landcover(results, lc_year: int = 2022, min_area_share: float = 0.0):
    """Fig 6: yearly mean NEP (g C m-2 a-1) per land-cover class (classes of ``lc_year``) with OLS
    slopes (g C m-2 a-2) in the legend."""
    ds = tables.dataset(results)
    series = tables.landcover_nep_series(ds, lc_year)
    area = tables.landcover_nep(ds, lc_year)[tables.AREA]
    keep = area / area.sum() * 100 > min_area_share
    series = series.loc[keep[keep].index.intersection(series.index)].dropna(how="all")
    trend = zonal.linear_trend(series)
    fig, ax = plt.subplots(figsize=(8.5, 4.8), layout="constrained")
    years = series.columns.to_numpy(dtype=float)
    for name, row in series.iterrows():
        col = LC_COLORS.get(name, "0.3")
        ax.plot(years, row.to_numpy(), "o-", ms=3, lw=1.2, color=col,
                label=f"{name}: {trend.loc[name, 'slope']:+.2f} {SLOPE_UNITS}")
        ax.plot(years, trend.loc[name, "intercept"] + trend.loc[name, "slope"] * years, "--", lw=0.8,
                color=col)
    ax.set(xlabel="year", ylabel=f"mean NEP ({NEP_UNITS})")
    ax.legend(title=f"land cover {lc_year} (OLS slope)", fontsize=7, title_fontsize=8,
              loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    ax.grid(alpha=0.3)
    ax.set_title("Mean NEP per land-cover class", fontsize=10)
    return fig


def fig7_persistence_map(results, provinces=None):
    """Fig 7: trend x Hurst persistence classes under the study's H > 0.5 rule (left) and under the
    calibrated null-quantile threshold (right), with area shares."""
    ds = tables.dataset(results)
    provinces = getattr(results, "provinces", None) if provinces is None else provinces
    shares = tables.persistence_shares(ds)
    fig = plt.figure(figsize=(12, 4.8), layout="constrained")
    cols = [c for c in shares.columns if c.endswith("share (%)")]
    for i, (var, col) in enumerate(zip(("persistence_class", "persistence_class_calibrated"), cols)):
        ax = map_ax(fig, 1, 2, i + 1)
        sh = shares[["class", "label"]].assign(**{"share (%)": shares[col]})
        class_map(ax, ds, var, sh, col.replace(": share (%)", ""), "class, share of area", provinces,
                  legend_below=True)
    return fig


def fig8_climate(results, provinces=None):
    """Fig 8: NWC mean annual temperature (degC), precipitation (mm a-1) and radiation (MJ m-2 a-1)
    with OLS trends (top) and their multi-year mean maps (bottom)."""
    ds = tables.dataset(results)
    provinces = getattr(results, "provinces", None) if provinces is None else provinces
    series = tables.climate_series(ds)
    trend = zonal.linear_trend(series)
    fig = plt.figure(figsize=(13, 7.5), layout="constrained")
    cmaps = {"tmean": "RdYlBu_r", "prcp": "viridis_r", "rad": "cividis"}
    years = series.columns.to_numpy(dtype=float)
    for i, (v, (name, units)) in enumerate(DRIVERS.items()):
        ax = fig.add_subplot(2, 3, i + 1)
        ax.plot(years, series.loc[v].to_numpy(), "o-", ms=3, color=OKABE_ITO[i + 4 if i < 2 else 6])
        s, b = trend.loc[v, "slope"], trend.loc[v, "intercept"]
        ax.plot(years, b + s * years, "--", color="0.3", label=f"OLS: {s:+.3g} {units} per year")
        ax.set(ylabel=f"{name} ({units})", xlabel="year")
        ax.legend(fontsize=7, frameon=False)
        ax.grid(alpha=0.3)
        ax.set_title(f"NWC mean {name}", fontsize=10)
        mx = map_ax(fig, 2, 3, i + 4)
        img = imshow(mx, ds, np.where(inside(ds), ds[v].mean("year").values, np.nan), cmap=cmaps[v])
        outlines(mx, ds, provinces)
        fig.colorbar(img, ax=mx, orientation="horizontal", shrink=0.8, pad=0.02,
                     label=f"mean {name} ({units})")
    return fig


def fig9_partial_corr_maps(results, alpha: float = 0.05, provinces=None):
    """Fig 9: partial correlation of NEP with each driver controlling for the other two (RdBu,
    unitless r), pixels with p < alpha stippled, shares of positive / negative / significant area."""
    ds = tables.dataset(results)
    provinces = getattr(results, "provinces", None) if provinces is None else provinces
    shares = tables.partial_corr_shares(ds, alpha)
    fig = plt.figure(figsize=(13, 4.6), layout="constrained")
    axes = []
    for i, (v, (name, _)) in enumerate(DRIVERS.items()):
        ax = map_ax(fig, 1, 3, i + 1)
        r = np.where(inside(ds), ds[f"pcorr_r_{v}"].values, np.nan)
        nodata(ax, ds, r)
        img = imshow(ax, ds, r, cmap="RdBu_r", vmin=-1, vmax=1)
        yy, xx = np.nonzero(inside(ds) & (ds[f"pcorr_p_{v}"].values < alpha))
        ax.scatter(ds["x"].values[xx], ds["y"].values[yy], s=1.5, c="k", marker=".", linewidths=0,
                   transform=albers())
        outlines(ax, ds, provinces)
        row = shares.loc[name]
        ax.set_title(f"NEP vs {name}\n+ {row.iloc[0]:.1f} % (sig. {row.iloc[2]:.1f} %), "
                     f"- {row.iloc[1]:.1f} % (sig. {row.iloc[3]:.1f} %)", fontsize=9)
        axes.append(ax)
    fig.colorbar(img, ax=axes, orientation="horizontal", shrink=0.5,
                 label=f"partial correlation r (1); dots: p < {alpha} (t-test, df = n - 4)")
    return fig
