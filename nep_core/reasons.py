"""Reason codes for masked pixels: a NaN in a result carries one of these stable codes in the matching
``*_reason`` variable (CF ``flag_values`` / ``flag_meanings``), so nothing is lost silently."""
from __future__ import annotations

import numpy as np

VALID = 0
ALL_NAN = 1            # no finite value along the time axis
TOO_FEW_VALID = 2      # fewer finite values than min_valid
CONSTANT = 3           # zero variance: statistic undefined
NONPOSITIVE_MEAN = 4   # coefficient of variation undefined (mean <= 0 or |mean| < eps)
NON_FINITE_INPUT = 5   # +/-inf in the input (treated as missing, recorded here)
NPP_FILL = 6           # MOD17A3HGF fill or non-vegetated class code (32761-32767)
OUTSIDE_REGION = 7     # outside the study region mask
NEGATIVE_VARIANCE = 8  # autocorrelation-corrected Var(S) <= 0 (guarded, see stats.sen_mk)
OUT_OF_RANGE = 9       # value outside the product's valid range
NO_COVARIATE = 10      # a driver (climate covariate) is missing at this pixel

MEANINGS = {VALID: "valid", ALL_NAN: "all_nan", TOO_FEW_VALID: "too_few_valid_years",
            CONSTANT: "constant_series", NONPOSITIVE_MEAN: "mean_nonpositive_or_near_zero",
            NON_FINITE_INPUT: "non_finite_input", NPP_FILL: "npp_fill_or_non_vegetated",
            OUTSIDE_REGION: "outside_region", NEGATIVE_VARIANCE: "corrected_variance_nonpositive",
            OUT_OF_RANGE: "value_out_of_valid_range", NO_COVARIATE: "covariate_missing"}


def flag_attrs(long_name: str) -> dict:
    """CF flag attributes for a ``*_reason`` variable."""
    codes = sorted(MEANINGS)
    return {"long_name": long_name, "flag_values": np.array(codes, dtype=np.int8),
            "flag_meanings": " ".join(MEANINGS[c] for c in codes), "units": "1"}


def counts(codes) -> np.ndarray:
    """How many of ``codes`` carry each reason code (index = code)."""
    return np.bincount(np.ravel(codes), minlength=max(MEANINGS) + 1)


def describe_counts(n) -> str:
    """``"meaning count, ..."`` of reason-code counts (:func:`counts`), most frequent first, for messages."""
    return ", ".join(f"{MEANINGS.get(c, c)} {n[c]}" for c in np.argsort(-n, kind="stable") if n[c])
