"""One function per table of the study (and of the book's additions), read from the results store.

Each takes the results ``Dataset`` (or a ``Results`` with ``.ds``) and returns a ``DataFrame`` whose
column names carry units (``"area (km2)"``, ``"share (%)"``); they aggregate stored results with
:mod:`nep_core.zonal` and compute no per-pixel statistic. Modules: ``base`` (store access, region
shares, FDR flags), ``study`` (the study's tables and series), ``checks`` (QC, planted truth, ``REFERENCE``).
"""
from __future__ import annotations

from .base import AREA, SHARE, dataset, is_synthetic, landcover_names, province_names
from .checks import (ATTRIBUTION_TRUTH, ATTRIBUTION_VARIANTS, REFERENCE, attribution_recovery,
                     interpolation_table, qc_table, qc_validation, study_vs_reproduction,
                     trend_false_positives, truth_recovery, uncertainty_table)
from .study import (attribution_by_landcover, attribution_by_province, attribution_class_shares,
                    climate_series, climate_trends, cv_class_shares, drywet_summary, hurst_null_for,
                    hurst_summary, landcover_areas, landcover_changes, landcover_nep, landcover_nep_series,
                    landcover_shares_by_year, nep_class_shares, nep_series, partial_corr_shares,
                    persistence_shares, province_summary, table1_trend_categories, transition_table,
                    trend_class_shares, trend_sensitivity)
