"""One function per table of the study (and of the book's additions), read from the results store.

Every function takes the results ``Dataset`` (or a ``Results`` object with ``.ds``) and returns a
``pandas.DataFrame`` whose column names carry their units, e.g. ``"mean NEP (g C m-2 a-1)"``,
``"area (km2)"``, ``"share (%)"``. No function here computes a per-pixel statistic: they aggregate
stored results with :mod:`nep_core.zonal` (area-weighted) and label stored classes.

``REFERENCE`` holds the numbers the study reports (copied from its text into
``nep_core/data/study_reference.csv``; reference data, not results), used by :func:`study_vs_reproduction`.

Modules: ``base`` (store access, column names, region shares, Mann-Kendall variants and FDR flags),
``study`` (the study's tables and yearly series), ``checks`` (station QC and interpolation, planted
truth recovery, the study's numbers beside the reproduction). Every public name is re-exported here.
"""
from __future__ import annotations

from .base import AREA, SHARE, dataset, is_synthetic, landcover_names, province_names
from .checks import (REFERENCE, interpolation_table, qc_table, qc_validation, study_vs_reproduction,
                     trend_false_positives, truth_recovery, uncertainty_table)
from .study import (climate_series, climate_trends, cv_class_shares, drywet_summary, hurst_null_for,
                    hurst_summary, landcover_areas, landcover_changes, landcover_nep, landcover_nep_series,
                    landcover_shares_by_year, nep_class_shares, nep_series, partial_corr_shares,
                    persistence_shares, province_summary, table1_trend_categories, transition_table,
                    trend_class_shares, trend_sensitivity)

__all__ = [
    "AREA", "SHARE", "REFERENCE", "dataset", "province_names",
    "landcover_names", "nep_series", "landcover_nep_series", "climate_series",
    "table1_trend_categories", "province_summary", "nep_class_shares", "trend_class_shares",
    "trend_sensitivity", "trend_false_positives", "drywet_summary", "qc_table", "qc_validation",
    "interpolation_table", "hurst_null_for", "cv_class_shares", "landcover_areas", "landcover_shares_by_year",
    "transition_table", "landcover_changes", "landcover_nep", "persistence_shares", "hurst_summary",
    "partial_corr_shares", "climate_trends", "truth_recovery", "study_vs_reproduction",
    "is_synthetic", "uncertainty_table",
]
