"""One function per figure of the study (``study``: Figs 1-9) and of the book's additions (``beyond``),
each returning a Figure.

Figures read the results store and :mod:`nep_core.tables`; they compute no statistic. Maps are in
the grid's China Albers projection (105 E; 25 N, 47 N) with province outlines (``provinces``: shapely
geometries in Albers or lon/lat, else contours of the ``province`` raster), colour-blind-safe palettes
(Okabe-Ito, BrBG/RdBu, cividis/viridis), units on legends and colourbars, and area shares beside the map.
What they share (palettes, map axes, outlines, the class-map legend) is in ``figures._common``.
"""
from __future__ import annotations

from ._common import ATTRIBUTION_COLORS, LC_COLORS, NODATA_COLOR, NODATA_LABEL, OKABE_ITO, PROVINCE_COLORS
from ._common import panel_axes
from .beyond import (fig_attribution_maps, fig_attribution_recovery, fig_hurst_null, fig_rh_sensitivity,
                     fig_trend_sensitivity, fig_truth_vs_recovered, fig_uncertainty)
from .study import (fig1_study_area, fig2_nep_series, fig3a_nep_mean_map, fig3b_trend_map, fig4_cv_map,
                    fig5_landcover_sankey, fig6_nep_by_landcover, fig7_persistence_map, fig8_climate,
                    fig9_partial_corr_maps)
