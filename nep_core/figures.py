"""One function per figure of the study (and of the book's additions), each returning a Figure.

Figures read the results store and :mod:`nep_core.tables`; they compute no statistic. Maps are in
the grid's China Albers projection (105 E; 25 N, 47 N) with province outlines (``provinces``: shapely
geometries in Albers or lon/lat, else contours of the ``province`` raster), colour-blind-safe palettes
(Okabe-Ito, BrBG/RdBu, cividis/viridis), units on legends and colourbars, and area shares beside the map.
"""
from __future__ import annotations

import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Patch, PathPatch, Rectangle
from matplotlib.path import Path

from . import tables, zonal
from .errors import NepInputError
from .vocab import DRIVERS, LANDCOVER_CLASSES, NEP_UNITS, PROVINCES, REGION_NAME, SLOPE_UNITS

#: Okabe & Ito (2008) colour-blind-safe qualitative palette.
OKABE_ITO = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000",
             "#999999"]
#: Land-cover colours (Okabe-Ito based, fixed per class so every figure agrees), by class name.
LC_COLORS = {LANDCOVER_CLASSES[c]: col for c, col in
             {1: "#009E73", 2: "#F0E442", 3: "#E69F00", 4: "#56B4E9", 5: "#D55E00", 6: "#0072B2",
              7: "#BBBBBB"}.items()}
#: Province (and whole-region) colours, by name.
PROVINCE_COLORS = {REGION_NAME: "#000000", **{p.name: col for p, col in
                   zip(PROVINCES, ("#E69F00", "#56B4E9", "#009E73", "#CC79A7", "#0072B2"))}}
#: Colour and legend label of region pixels without a value.
NODATA_COLOR = "#D4D4D4"
NODATA_LABEL = "no value (non-vegetated NPP fill or masked)"


def _albers():
    import cartopy.crs as ccrs

    return ccrs.AlbersEqualArea(central_longitude=105, central_latitude=0, standard_parallels=(25, 47))


def __getattr__(name):  # ALBERS built lazily so that importing this module stays cheap
    if name == "ALBERS":
        return _albers()
    raise AttributeError(name)


def panel_axes(fig) -> list:
    """The figure's panels: its axes without colourbars (used by the tests and the book)."""
    return [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]


def _extent(ds):
    x, y = ds["x"].values, ds["y"].values
    dx = abs(x[1] - x[0]) if x.size > 1 else 1.0
    dy = abs(y[1] - y[0]) if y.size > 1 else 1.0
    return [x.min() - dx / 2, x.max() + dx / 2, y.min() - dy / 2, y.max() + dy / 2]


def _map_ax(fig, *args):
    return fig.add_subplot(*args, projection=_albers())


def _imshow(ax, ds, arr, **kw):
    """Draw a (y, x) array of the grid in the map's Albers projection (y descending = 'upper')."""
    y = ds["y"].values
    origin = "upper" if y.size < 2 or y[0] > y[-1] else "lower"
    img = ax.imshow(np.asarray(arr), extent=_extent(ds), origin=origin, transform=_albers(),
                    interpolation="nearest", **kw)
    ax.set_extent(_extent(ds), crs=_albers())
    return img


def _nodata(ax, ds, arr):
    """Paint region pixels without a value light grey, so 'no data' never looks like a light class."""
    miss = _inside(ds) & ~np.isfinite(np.asarray(arr, dtype=float))
    if miss.any():
        _imshow(ax, ds, np.where(miss, 1.0, np.nan), cmap=mcolors.ListedColormap([NODATA_COLOR]),
                vmin=0, vmax=2)
    return float(100 * ds["cell_area"].values[miss].sum() / ds["cell_area"].values[_inside(ds)].sum())


def _outlines(ax, ds, provinces=None, color="0.15", lw=0.6):
    """Province outlines: shapely geometries when given, else contours of the province raster."""
    if provinces:
        import cartopy.crs as ccrs

        geoms = list(provinces)
        minx, miny, maxx, maxy = np.array([g.bounds for g in geoms]).T
        lonlat = np.all(np.abs(np.r_[minx, maxx]) <= 180) and np.all(np.abs(np.r_[miny, maxy]) <= 90)
        crs = ccrs.PlateCarree() if lonlat else _albers()
        ax.add_geometries(geoms, crs=crs, facecolor="none", edgecolor=color, linewidth=lw)
        return
    prov = ds["province"].values
    for c in np.unique(prov[prov != 0]):
        ax.contour(ds["x"].values, ds["y"].values, (prov == c).astype(float), levels=[0.5],
                   colors=[color], linewidths=lw, transform=_albers())


def _inside(ds):
    return ds["province"].values > 0


def _class_colors(var: str, labels: dict) -> dict:
    """Colour per class code for the class variables of the store."""
    codes = sorted(labels)
    if var == "trend_class":                  # BrBG: green increase, brown decrease, darker if significant
        level = {"extremely": 0.98, "significant": 0.85, "weakly": 0.72, "non": 0.6}
        out = {c: "#F7F7F7" for c in codes}
        for c in (c for c in codes if labels[c].endswith(("increase", "decrease"))):
            v = level.get(labels[c].split()[0], 0.6)
            out[c] = plt.get_cmap("BrBG")(v if labels[c].endswith("increase") else 1 - v)
        return out
    if var == "nep_class":                    # sources brown, sinks in Greens
        sinks = [c for c in codes if "source" not in labels[c]]
        out = {c: "#A6611A" for c in codes}
        out.update({c: plt.get_cmap("Greens")(0.35 + 0.6 * i / max(len(sinks) - 1, 1))
                    for i, c in enumerate(sinks)})
        return out
    if var == "cv_class":
        return {c: plt.get_cmap("cividis")(i / max(len(codes) - 1, 1)) for i, c in enumerate(codes)}
    if var == "landcover":
        return {c: LC_COLORS.get(labels[c], OKABE_ITO[i % 9]) for i, c in enumerate(codes)}
    if var.endswith("attr_class") or var.endswith("attr_time_class"):
        return {c: ATTRIBUTION_COLORS.get(c, "#BBBBBB") for c in codes}
    pers = {"continuous increase": "#009E73", "increase then decrease": "#F0E442",
            "decrease then increase": "#56B4E9", "continuous decrease": "#D55E00"}
    return {c: pers.get(labels[c], "#BBBBBB") for c in codes}


def _class_map(ax, ds, var: str, shares: pd.DataFrame, title: str, legend_title: str,
               provinces=None, labels=None):
    """Categorical map of a stored class variable with a legend that prints each class's share
    (legend labels: ``labels``, default the variable's flag meanings)."""
    da = ds[var]
    labels = labels or zonal.class_labels(da)
    if not labels:
        raise NepInputError("class variable without flag_values / flag_meanings", variable=var)
    colors = _class_colors(var, labels)
    codes = sorted(labels)
    cmap = mcolors.ListedColormap([colors[c] for c in codes])
    norm = mcolors.BoundaryNorm(np.r_[np.array(codes) - 0.5, codes[-1] + 0.5], cmap.N)
    arr = np.where(_inside(ds) & (da.values > 0), da.values, np.nan).astype(float)
    nodata_share = _nodata(ax, ds, arr)
    _imshow(ax, ds, arr, cmap=cmap, norm=norm)
    _outlines(ax, ds, provinces)
    ax.set_title(title, fontsize=10)
    share = shares.set_index("class")[tables.SHARE]
    handles = [Patch(facecolor=colors[c], edgecolor="0.4", linewidth=0.3,
                     label=f"{labels[c]}: {share.get(c, 0.0):.2f} %") for c in codes]
    if nodata_share > 0:
        handles.append(Patch(facecolor=NODATA_COLOR, edgecolor="0.4", linewidth=0.3,
                             label=f"{NODATA_LABEL}: {nodata_share:.2f} % of the region"))
    ax.legend(handles=handles, title=legend_title, loc="upper left", bbox_to_anchor=(1.02, 1.0),
              fontsize=7, title_fontsize=8, frameon=False)


def _gridlines(ax):
    return ax.gridlines(draw_labels=False, linewidth=0.3, color="0.6", alpha=0.6, linestyle=":")


def fig1_study_area(results, stations=None, provinces=None):
    """Fig 1: study area -- elevation (m), province outlines, dry/wet zone boundaries and the
    stations (``x`` / ``y`` in Albers m; default ``results.stations``)."""
    ds = tables.dataset(results)
    stations = getattr(results, "stations", None) if stations is None else stations
    provinces = getattr(results, "provinces", None) if provinces is None else provinces
    fig = plt.figure(figsize=(8.5, 5.5), layout="constrained")
    ax = _map_ax(fig, 1, 1, 1)
    elev = np.where(_inside(ds), ds["elevation"].values, np.nan)
    img = _imshow(ax, ds, elev, cmap="cividis")
    fig.colorbar(img, ax=ax, shrink=0.7, label=f"elevation ({ds['elevation'].attrs.get('units', 'm')})")
    _outlines(ax, ds, provinces, color="white", lw=1.0)
    dw = ds["drywet"].values.astype(float)
    zones = zonal.class_labels(ds["drywet"])
    handles = [Patch(facecolor="none", edgecolor="white", label="province boundary")]
    if np.unique(dw[dw > 0]).size > 1:
        ax.contour(ds["x"].values, ds["y"].values, np.where(_inside(ds), dw, np.nan),
                   levels=np.arange(1.5, dw.max()), colors=["#E69F00"], linewidths=1.2,
                   linestyles="--", transform=_albers())
        handles.append(plt.Line2D([], [], color="#E69F00", ls="--",
                                  label="dry/wet zone boundary" + (
                                      f" ({', '.join(zones.values())})" if zones else "")))
    if stations is not None and "x" in stations.coords:
        ax.scatter(stations["x"].values, stations["y"].values, s=10, marker="^", color="#D55E00",
                   edgecolor="k", linewidth=0.3, transform=_albers(), zorder=5)
        handles.append(plt.Line2D([], [], marker="^", color="#D55E00", ls="",
                                  label=f"climate stations (n = {stations.sizes['station']})"))
    leg = ax.legend(handles=handles, loc="lower left", fontsize=7, facecolor="0.85")
    leg.get_frame().set_alpha(0.9)
    _gridlines(ax)
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
    """A figure of one class map (:func:`_class_map`) with gridlines."""
    provinces = getattr(results, "provinces", None) if provinces is None else provinces
    fig = plt.figure(figsize=(width, 5), layout="constrained")
    ax = _map_ax(fig, 1, 1, 1)
    _class_map(ax, tables.dataset(results), var, shares, title, legend_title, provinces, labels)
    _gridlines(ax)
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
        ax = _map_ax(fig, 1, 2, i + 1)
        sh = shares[["class", "label"]].assign(**{"share (%)": shares[col]})
        _class_map(ax, ds, var, sh, col.replace(": share (%)", ""), "class, share of area", provinces)
        ax.get_legend().set_bbox_to_anchor((0.0, -0.02))
        ax.get_legend().set_loc("upper left")
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
        mx = _map_ax(fig, 2, 3, i + 4)
        img = _imshow(mx, ds, np.where(_inside(ds), zonal.multi_year_mean(ds[v]).values, np.nan),
                      cmap=cmaps[v])
        _outlines(mx, ds, provinces)
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
        ax = _map_ax(fig, 1, 3, i + 1)
        r = np.where(_inside(ds), ds[f"pcorr_r_{v}"].values, np.nan)
        _nodata(ax, ds, r)
        img = _imshow(ax, ds, r, cmap="RdBu_r", vmin=-1, vmax=1)
        yy, xx = np.nonzero(_inside(ds) & (ds[f"pcorr_p_{v}"].values < alpha))
        ax.scatter(ds["x"].values[xx], ds["y"].values[yy], s=1.5, c="k", marker=".", linewidths=0,
                   transform=_albers())
        _outlines(ax, ds, provinces)
        row = shares.loc[name]
        ax.set_title(f"NEP vs {name}\n+ {row.iloc[0]:.1f} % (sig. {row.iloc[2]:.1f} %), "
                     f"- {row.iloc[1]:.1f} % (sig. {row.iloc[3]:.1f} %)", fontsize=9)
        axes.append(ax)
    fig.colorbar(img, ax=axes, orientation="horizontal", shrink=0.5,
                 label=f"partial correlation r (1); dots: p < {alpha} (t-test, df = n - 4)")
    return fig


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
    h = ds["hurst"].values[_inside(ds)]
    w = ds["cell_area"].values[_inside(ds)][np.isfinite(h)]
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
    ncol = min(len(metrics), 2 if len(metrics) > 3 else len(metrics))
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
    est = ds[var].values[_inside(ds)]
    tru = truth[var].values[_inside(ds)]
    ok = np.isfinite(est) & np.isfinite(tru)
    fig, ax = plt.subplots(figsize=(6, 5), layout="constrained")
    hb = ax.hexbin(tru[ok], est[ok], gridsize=gridsize, mincnt=1, cmap="viridis", bins="log")
    fig.colorbar(hb, ax=ax, label="pixels per hexagon (count)")
    lo, hi = np.nanmin(np.r_[tru[ok], est[ok]]), np.nanmax(np.r_[tru[ok], est[ok]])
    ax.plot([lo, hi], [lo, hi], color="#D55E00", lw=1.2, label="1:1")
    row = summary.iloc[0]
    ax.text(0.02, 0.98, "\n".join(f"{k}: {v:.3g}" for k, v in row.items()), transform=ax.transAxes,
            va="top", fontsize=8, bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "0.7"})
    ax.set(xlabel=f"planted {var} ({units})", ylabel=f"recovered {var} ({units})")
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    return fig



# ---------------------------------------------------------------------------- trend attribution
#: colour of each scenario of ``nep_core.attribution.ATTRIBUTION_CLASSES`` (Okabe-Ito), by code
ATTRIBUTION_COLORS = {1: "#009E73", 2: "#56B4E9", 3: "#E69F00", 4: "#D55E00", 5: "#0072B2", 6: "#CC79A7"}


def fig_attribution_maps(results, provinces=None, prefix: str = "attr_"):
    """Dominant driver of the NEP trend (six scenarios, area shares) and the contribution maps:
    climate and human parts of the Theil-Sen trend (g C m-2 a-2, BrBG, one symmetric scale) and the
    human contribution (%); ``prefix`` selects the stored variant (``attr_`` = RESTREND)."""
    ds = tables.dataset(results)
    provinces = getattr(results, "provinces", None) if provinces is None else provinces
    fig = plt.figure(figsize=(13, 10), layout="constrained")
    ax = _map_ax(fig, 2, 2, 1)
    _class_map(ax, ds, f"{prefix}class", tables.attribution_class_shares(ds, f"{prefix}class"),
               "Dominant driver of the NEP trend", "scenario, share of area", provinces)
    ax.get_legend().set_bbox_to_anchor((0.0, -0.02))
    ax.get_legend().set_loc("upper left")
    parts = [ds[f"{prefix}slope_{p}"].where(ds["province"] > 0) for p in ("climate", "human")]
    lim = float(np.nanquantile(np.abs(np.concatenate([p.values.ravel() for p in parts])), 0.98))
    share = ds[f"{prefix}share_human"].where(ds["province"] > 0)
    panels = [(parts[0], "climate part of the NEP trend", dict(cmap="BrBG", vmin=-lim, vmax=lim),
               f"Theil-Sen slope ({SLOPE_UNITS})"),
              (parts[1], "human part of the NEP trend", dict(cmap="BrBG", vmin=-lim, vmax=lim),
               f"Theil-Sen slope ({SLOPE_UNITS})"),
              (share, "human contribution to the NEP trend", dict(cmap="cividis", vmin=0, vmax=100),
               "human contribution (%)")]
    for i, (da, title, style, label) in enumerate(panels):
        ax = _map_ax(fig, 2, 2, 2 + i)
        _nodata(ax, ds, da.values)
        img = _imshow(ax, ds, da.values, **style)
        _outlines(ax, ds, provinces)
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
    keep = ((lc.isel(lc_year=0) == lc.isel(lc_year=-1)) & (truth["no_trend_mask"] == 0)).values & _inside(ds)
    variants = [(p, lab) for p, lab in tables.ATTRIBUTION_VARIANTS.items() if f"{p}slope_human" in ds]
    fig, axes = plt.subplots(1, len(variants), figsize=(5.6 * len(variants), 5), layout="constrained",
                             squeeze=False)
    tru_all = truth[tvar].values
    for ax, (prefix, label) in zip(axes[0], variants):
        est = ds[f"{prefix}slope_human"].values
        ok = keep & np.isfinite(est) & np.isfinite(tru_all)
        hb = ax.hexbin(tru_all[ok], est[ok], gridsize=gridsize, mincnt=1, cmap="viridis", bins="log")
        lo, hi = np.nanmin(np.r_[tru_all[ok], est[ok]]), np.nanmax(np.r_[tru_all[ok], est[ok]])
        ax.plot([lo, hi], [lo, hi], color="#D55E00", lw=1.2, label="1:1")
        row = rec.loc[(label, "human", "all pixels")]
        ax.text(0.02, 0.98, "\n".join(f"{k}: {v:.3g}" for k, v in row.items()), transform=ax.transAxes,
                va="top", fontsize=7, bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "0.7"})
        ax.set_title(label, fontsize=10)
        ax.set_xlabel(f"planted human part ({SLOPE_UNITS})")
        ax.set_ylabel(f"recovered human part ({SLOPE_UNITS})")
        ax.legend(loc="lower right", fontsize=8, frameon=False)
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
