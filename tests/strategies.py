"""Hypothesis strategies for annual series (24 years unless told) and their wrappers."""
from __future__ import annotations

import numpy as np
import xarray as xr
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

YEARS = np.arange(2000, 2024)


def series(n: int = 24, min_value: float = -1e3, max_value: float = 1e3, distinct: bool = True):
    """Finite float64 series of length n on a 1/8 grid (distinct by default: no ties, and no ties
    created by rounding under the affine maps of the property tests)."""
    elems = st.integers(int(min_value * 8), int(max_value * 8))
    return hnp.arrays(np.int64, n, elements=elems, unique=distinct).map(lambda a: a / 8.0)


def tied_gappy_series(n: int = 24, min_valid: int = 3):
    """Series with many ties (values from a few levels) and missing years (NaN), at least
    ``min_valid`` finite values; constant series included."""
    levels = st.integers(1, 6).flatmap(lambda k: st.lists(st.integers(-k, k), min_size=n, max_size=n))
    mask = st.lists(st.booleans(), min_size=n, max_size=n).filter(lambda m: n - sum(m) >= min_valid)
    return st.tuples(levels, mask, st.floats(0.1, 100)).map(
        lambda a: np.where(a[1], np.nan, np.asarray(a[0], float) * a[2]))


def noisy_series(n: int = 24):
    """Series built from a seed: trend + Gaussian noise, well conditioned for regression tests."""
    return st.tuples(st.integers(0, 2**32 - 1), st.floats(-5, 5), st.floats(0.1, 50)).map(
        lambda t: t[1] * np.arange(n) + t[2] * np.random.default_rng(t[0]).standard_normal(n))


def as_da(y, years=YEARS, units="g C m-2 a-1", name="nep"):
    y = np.asarray(y, dtype=np.float64)
    return xr.DataArray(y, dims=("year",) if y.ndim == 1 else ("pixel", "year"),
                        coords={"year": years[: y.shape[-1]]}, attrs={"units": units}, name=name)


def scalars(a=st.floats(0.01, 100), b=st.floats(-50, 50), c=st.floats(-1e3, 1e3)):
    return st.tuples(a, b, c)
