"""What the figures share: palettes, the Albers map axes, province outlines, no-data shading and
the class-map legend with area shares."""
from __future__ import annotations

import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Patch

from .. import tables, zonal
from ..errors import NepInputError
from ..vocab import LANDCOVER_CLASSES, PROVINCES, REGION_NAME


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


def albers():
    import cartopy.crs as ccrs

    return ccrs.AlbersEqualArea(central_longitude=105, central_latitude=0, standard_parallels=(25, 47))


def panel_axes(fig) -> list:
    """The figure's panels: its axes without colourbars (used by the tests and the book)."""
    return [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]


def _extent(ds):
    x, y = ds["x"].values, ds["y"].values
    dx = abs(x[1] - x[0]) if x.size > 1 else 1.0
    dy = abs(y[1] - y[0]) if y.size > 1 else 1.0
    return [x.min() - dx / 2, x.max() + dx / 2, y.min() - dy / 2, y.max() + dy / 2]


def map_ax(fig, *args):
    return fig.add_subplot(*args, projection=albers())


def imshow(ax, ds, arr, **kw):
    """Draw a (y, x) array of the grid in the map's Albers projection (y descending = 'upper')."""
    y = ds["y"].values
    origin = "upper" if y.size < 2 or y[0] > y[-1] else "lower"
    img = ax.imshow(np.asarray(arr), extent=_extent(ds), origin=origin, transform=albers(),
                    interpolation="nearest", **kw)
    ax.set_extent(_extent(ds), crs=albers())
    return img


def nodata(ax, ds, arr):
    """Paint region pixels without a value light grey, so 'no data' never looks like a light class."""
    miss = inside(ds) & ~np.isfinite(np.asarray(arr, dtype=float))
    if miss.any():
        imshow(ax, ds, np.where(miss, 1.0, np.nan), cmap=mcolors.ListedColormap([NODATA_COLOR]),
                vmin=0, vmax=2)
    return float(100 * ds["cell_area"].values[miss].sum() / ds["cell_area"].values[inside(ds)].sum())


def outlines(ax, ds, provinces=None, color="0.15", lw=0.6):
    """Province outlines: shapely geometries when given, else contours of the province raster."""
    if provinces:
        import cartopy.crs as ccrs

        geoms = list(provinces)
        minx, miny, maxx, maxy = np.array([g.bounds for g in geoms]).T
        lonlat = np.all(np.abs(np.r_[minx, maxx]) <= 180) and np.all(np.abs(np.r_[miny, maxy]) <= 90)
        crs = ccrs.PlateCarree() if lonlat else albers()
        ax.add_geometries(geoms, crs=crs, facecolor="none", edgecolor=color, linewidth=lw)
        return
    prov = ds["province"].values
    for c in np.unique(prov[prov != 0]):
        ax.contour(ds["x"].values, ds["y"].values, (prov == c).astype(float), levels=[0.5],
                   colors=[color], linewidths=lw, transform=albers())


def inside(ds):
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


def class_map(ax, ds, var: str, shares: pd.DataFrame, title: str, legend_title: str,
              provinces=None, labels=None, legend_below: bool = False):
    """Categorical map of a stored class variable with a legend (right of the map, or below it) that
    prints each class's share (legend labels: ``labels``, default the variable's flag meanings)."""
    da = ds[var]
    labels = labels or zonal.class_labels(da)
    if not labels:
        raise NepInputError("class variable without flag_values / flag_meanings", variable=var)
    colors = _class_colors(var, labels)
    codes = sorted(labels)
    cmap = mcolors.ListedColormap([colors[c] for c in codes])
    norm = mcolors.BoundaryNorm(np.r_[np.array(codes) - 0.5, codes[-1] + 0.5], cmap.N)
    arr = np.where(inside(ds) & (da.values > 0), da.values, np.nan).astype(float)
    nodata_share = nodata(ax, ds, arr)
    imshow(ax, ds, arr, cmap=cmap, norm=norm)
    outlines(ax, ds, provinces)
    ax.set_title(title, fontsize=10)
    share = shares.set_index("class")[tables.SHARE]
    handles = [Patch(facecolor=colors[c], edgecolor="0.4", linewidth=0.3,
                     label=f"{labels[c]}: {share.get(c, 0.0):.2f} %") for c in codes]
    if nodata_share > 0:
        handles.append(Patch(facecolor=NODATA_COLOR, edgecolor="0.4", linewidth=0.3,
                             label=f"{NODATA_LABEL}: {nodata_share:.2f} % of the region"))
    ax.legend(handles=handles, title=legend_title, loc="upper left",
              bbox_to_anchor=(0.0, -0.02) if legend_below else (1.02, 1.0), fontsize=7, title_fontsize=8,
              frameon=False)


def gridlines(ax):
    return ax.gridlines(draw_labels=False, linewidth=0.3, color="0.6", alpha=0.6, linestyle=":")


#: colour of each scenario of ``nep_core.attribution.ATTRIBUTION_CLASSES`` (Okabe-Ito), by code
ATTRIBUTION_COLORS = {1: "#009E73", 2: "#56B4E9", 3: "#E69F00", 4: "#D55E00", 5: "#0072B2", 6: "#CC79A7"}
