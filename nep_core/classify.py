"""Declared class tables (DataFrames with ``code``, ``name`` = CF flag meaning, ``label``, ``rule``)
and the functions that apply them: int8 maps, ``0 = no data``, classes ``1..K`` in table order, with
CF ``flag_values`` / ``flag_meanings`` and the parameters used (eps, thresholds, edges) as attrs."""
from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from . import reasons
from .config import Stats
from .errors import NepInputError
from .stats import fdr
from .vocab import CORRECTIONS, NEP_UNITS, NO_CORRECTION, check_units

_DEFAULTS = Stats()
Z_THRESHOLDS = (1.645, 1.960, 2.576)

TREND_CLASSES = pd.DataFrame([
    (0, "no_data", "no data", "slope NaN, or |slope| >= eps with Z NaN"),
    (1, "extremely_significant_decrease", "extremely significant decrease", "slope <= -eps and Z < -2.576"),
    (2, "significant_decrease", "significant decrease", "slope <= -eps and -2.576 <= Z < -1.960"),
    (3, "weakly_significant_decrease", "weakly significant decrease", "slope <= -eps and -1.960 <= Z < -1.645"),
    (4, "non_significant_decrease", "non-significant decrease", "slope <= -eps and Z >= -1.645"),
    (5, "stable", "stable", "|slope| < eps (any Z)"),
    (6, "non_significant_increase", "non-significant increase", "slope >= eps and Z <= 1.645"),
    (7, "weakly_significant_increase", "weakly significant increase", "slope >= eps and 1.645 < Z <= 1.960"),
    (8, "significant_increase", "significant increase", "slope >= eps and 1.960 < Z <= 2.576"),
    (9, "extremely_significant_increase", "extremely significant increase", "slope >= eps and Z > 2.576"),
], columns=["code", "name", "label", "rule"])
"""Table 1 of the study as data. Direction = sign of the Sen slope; significance level = number of
critical values (1.645 / 1.960 / 2.576, strict >) exceeded by |Z| when Z has the slope's sign (a Z
of the opposite sign, which can happen for tiny slopes, counts as non-significant)."""

NEP_CLASSES = pd.DataFrame([
    (0, "no_data", "no data", "NaN"),
    (1, "carbon_source", "carbon source", "NEP < 0"),
    (2, "low_carbon_sink", "low carbon sink", "0 <= NEP < 200"),
    (3, "medium_carbon_sink", "medium carbon sink", "200 <= NEP < 400"),
    (4, "high_carbon_sink", "high carbon sink", "NEP >= 400"),
], columns=["code", "name", "label", "rule"])
"""Multi-year mean NEP classes (g C m-2 a-1), Fig 3a."""
NEP_EDGES = (0.0, 200.0, 400.0)

CV_CLASS_NAMES = ("low_fluctuation", "relatively_low_fluctuation", "medium_fluctuation",
                  "relatively_high_fluctuation", "high_fluctuation")

PERSISTENCE_CLASSES = pd.DataFrame([
    (0, "no_data", "no data", "trend or H missing"),
    (1, "continuous_increase", "continuous increase", "increasing and H > threshold"),
    (2, "increase_then_decrease", "increase then decrease", "increasing and H < threshold"),
    (3, "decrease_then_increase", "decrease then increase", "decreasing and H < threshold"),
    (4, "continuous_decrease", "continuous decrease", "decreasing and H > threshold"),
    (5, "no_trend_or_undetermined", "no trend / undetermined",
     "no trend direction (stable or, with direction='significant', not significant), or H == threshold"),
], columns=["code", "name", "label", "rule"])
"""Trend x Hurst classes (Fig 7). A persistent series (H > threshold) is expected to continue its
trend; an anti-persistent one (H < threshold) to reverse it."""


def flag_attrs(table: pd.DataFrame, long_name: str, **extra) -> dict:
    """CF flag attributes (codes >= 1; 0 is no data) for a class table."""
    t = table[table["code"] > 0]
    return {"long_name": long_name, "units": "1",
            "flag_values": t["code"].to_numpy(np.int8),
            "flag_meanings": " ".join(t["name"]), **extra}


def _as_float(da, name):
    if not isinstance(da, xr.DataArray):
        raise NepInputError(f"expected an xarray.DataArray, got {type(da).__name__}", variable=name)
    if da.dtype.kind not in "iuf":
        raise NepInputError(f"non-numeric dtype {da.dtype}", variable=name)
    return da.astype(np.float64) if da.dtype.kind != "f" else da


def _trend_codes(slope, z, eps, thr):
    slope, z = np.asarray(slope, dtype=np.float64), np.asarray(z, dtype=np.float64)
    out = np.zeros(slope.shape, dtype=np.int8)
    finite = np.isfinite(slope)
    stable = finite & (np.abs(slope) < eps)
    direction = np.sign(slope)
    with np.errstate(invalid="ignore"):
        zs = np.where(np.isfinite(z), z * direction, np.nan)   # Z in the slope's direction
        level = np.zeros(slope.shape, dtype=np.int8)
        for c in thr:
            level += (zs > c).astype(np.int8)
    ok = finite & ~stable & np.isfinite(zs)
    out[ok] = (5 + direction[ok] * (1 + level[ok])).astype(np.int8)
    out[stable] = 5
    return out


def trend_class(result: xr.Dataset, eps: float = _DEFAULTS.stable_eps,
                thresholds=Z_THRESHOLDS) -> xr.DataArray:
    """Table 1 trend classes (``TREND_CLASSES``, codes 0..9) of a ``sen_mk`` Dataset's ``slope`` and
    ``z`` variable: stable is |slope| < ``eps`` (slope units, default 0.5 g C m-2 a-2), significance
    levels are three increasing critical |Z| ``thresholds`` (strict >)."""
    if not isinstance(result, xr.Dataset) or "slope" not in result or "z" not in result:
        raise NepInputError("need a sen_mk Dataset with 'slope' and 'z'", variable="result")
    thr = tuple(float(x) for x in thresholds)
    if len(thr) != 3 or not (0 < thr[0] < thr[1] < thr[2]):
        raise NepInputError(f"thresholds must be three increasing positive values, got {thresholds}",
                            variable="thresholds")
    if not (np.isfinite(eps) and eps >= 0):
        raise NepInputError(f"eps must be finite and >= 0, got {eps!r}", variable="eps")
    slope = _as_float(result["slope"], "slope")
    z = _as_float(result["z"], "z")
    out = xr.apply_ufunc(_trend_codes, slope, z, kwargs=dict(eps=float(eps), thr=thr), dask="parallelized",
                         output_dtypes=[np.int8])
    return out.rename("trend_class").assign_attrs(flag_attrs(
        TREND_CLASSES, "Mann-Kendall trend class (Table 1)", eps=float(eps),
        eps_units=slope.attrs.get("units", ""), thresholds=np.array(thr),
        description="direction = sign of the Theil-Sen slope; stable = |slope| < eps; significance = "
                    "|Z| strictly above 1.645 / 1.960 / 2.576 in the slope's direction; 0 = no data"))


def _cut(values, edges, side="right"):
    """1 + the ``numpy.searchsorted`` position of each finite value in ``edges``; NaN -> 0."""
    v = np.asarray(values, dtype=np.float64)
    out = np.zeros(v.shape, dtype=np.int8)
    fin = np.isfinite(v)
    out[fin] = (1 + np.searchsorted(np.asarray(edges), v[fin], side=side)).astype(np.int8)
    return out


def nep_class(nep_mean: xr.DataArray, edges=NEP_EDGES) -> xr.DataArray:
    """NEP sink/source classes of ``NEP_CLASSES`` (edges in g C m-2 a-1; lower edge inclusive)."""
    da = _as_float(nep_mean, "nep_mean")
    check_units(da, "carbon_flux", variable=da.name or "nep_mean", missing_ok=True)
    out = xr.apply_ufunc(_cut, da, kwargs=dict(edges=tuple(edges)), dask="parallelized",
                         output_dtypes=[np.int8])
    return out.rename("nep_class").assign_attrs(flag_attrs(
        NEP_CLASSES, "NEP sink class", edges=np.asarray(edges, float), edges_units=NEP_UNITS,
        description="source < 0 <= low sink < 200 <= medium sink < 400 <= high sink (g C m-2 a-1)"))


def natural_breaks(da, k: int = _DEFAULTS.n_breaks, sample: int = _DEFAULTS.breaks_sample,
                   seed: int = 20000101) -> np.ndarray:
    """Fisher-Jenks natural breaks of the finite values of ``da``: the exact least within-class sum
    of squares partition into ``k`` classes (``jenkspy.jenks_breaks``), fitted on a seeded sample
    (``default_rng(seed).choice``, no replacement) of ``sample`` values when there are more.

    Returns k + 1 edges [min, b_1, ..., b_k], b_i the largest fitted value of class i (for
    ``classify_breaks``).

    References
    ----------
    Fisher (1958) JASA 53: 789-798. Jenks (1977) Optimal data classification for choropleth maps,
    Univ. of Kansas Occasional Paper 2.
    """
    import jenkspy

    vals = np.asarray(getattr(da, "values", da), dtype=np.float64).ravel()
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        raise NepInputError("no finite values to classify", variable=getattr(da, "name", None) or "input")
    if not isinstance(k, (int, np.integer)) or k < 2:
        raise NepInputError(f"k must be an integer >= 2, got {k!r}", variable="k")
    if np.unique(vals).size < k:
        raise NepInputError(f"fewer than k={k} distinct finite values",
                            variable=getattr(da, "name", None) or "input")
    if vals.size > sample:
        vals = np.random.default_rng(seed).choice(vals, size=int(sample), replace=False)
    return np.asarray(jenkspy.jenks_breaks(vals, n_classes=int(k)), dtype=np.float64)


def classify_breaks(da: xr.DataArray, edges, names=None) -> xr.DataArray:
    """Classes 1..k from edges [e_0, ..., e_k]: class i holds e_{i-1} < v <= e_i (the upper-bound
    convention of ``natural_breaks``); values <= e_1 are class 1 and values > e_{k-1} class k
    (values outside the fitted range from a sample fall in the end classes); NaN -> 0."""
    e = np.asarray(edges, dtype=np.float64)
    if e.ndim != 1 or e.size < 3 or not np.all(np.diff(e) > 0):
        raise NepInputError("edges must be >= 3 strictly increasing values", variable="edges")
    da = _as_float(da, "input")
    k = e.size - 1
    out = xr.apply_ufunc(_cut, da, kwargs=dict(edges=e[1:-1], side="left"), dask="parallelized",
                         output_dtypes=[np.int8])
    names = list(names) if names is not None else [f"class_{i}" for i in range(1, k + 1)]
    if len(names) != k:
        raise NepInputError(f"{len(names)} names for {k} classes", variable="names")
    return out.rename(f"{da.name}_class" if da.name else "class").assign_attrs(
        long_name="natural-breaks class", units="1", flag_values=np.arange(1, k + 1, dtype=np.int8),
        flag_meanings=" ".join(names), breaks=e,
        description="class i: edges[i-1] < v <= edges[i] (Fisher-Jenks edges); 0 = no data")


def _direction(trend, direction, alpha, eps):
    """+1 increasing, -1 decreasing, 0 no trend, NaN unknown -- from a sen_mk Dataset or Table-1 codes."""
    if isinstance(trend, xr.Dataset):
        if "slope" not in trend:
            raise NepInputError("sen_mk Dataset without 'slope'", variable="trend")
        s = _as_float(trend["slope"], "slope")
        d = xr.where(np.isfinite(s), np.sign(s), np.nan)
        d = xr.where(np.abs(s) < eps, 0.0, d)
        if direction == "significant":
            if "p" not in trend:
                raise NepInputError("direction='significant' needs 'p' in the trend Dataset", variable="trend")
            d = xr.where(trend["p"] < alpha, d, xr.where(np.isfinite(s), 0.0, np.nan))
        return d
    if isinstance(trend, xr.DataArray) and trend.dtype.kind in "iu":
        c = trend.astype(np.int16)
        if direction == "significant":
            inc, dec = (c >= 8), (c <= 2) & (c >= 1)     # |Z| > 1.960 in Table 1
        else:
            inc, dec = (c >= 6), (c <= 4) & (c >= 1)
        return xr.where(c == 0, np.nan, xr.where(inc, 1.0, xr.where(dec, -1.0, 0.0)))
    raise NepInputError("trend must be a sen_mk Dataset or an integer Table-1 class map", variable="trend")


def persistence_class(trend, hurst: xr.DataArray, threshold: float = 0.5,
                      direction: str = "sign", alpha: float = _DEFAULTS.alpha,
                      eps: float = _DEFAULTS.stable_eps) -> xr.DataArray:
    """Trend x Hurst persistence classes (Fig 7, ``PERSISTENCE_CLASSES``, codes 0..5) of a ``sen_mk``
    Dataset (``slope``; ``p`` for direction="significant") or a Table-1 class map ``trend``.

    H > ``threshold`` is persistent, H < threshold anti-persistent, H == threshold undetermined: 0.5
    is the study's rule, a calibrated threshold a null quantile of ``nep_core.stats.hurst_null_quantiles``
    (H under iid noise is far above 0.5 at n = 24). ``direction="sign"`` (the study's shares): the
    sign of the Sen slope, |slope| < eps = no trend; ``"significant"``: only MK p < alpha (Dataset)
    or |Z| > 1.960 (codes 1, 2, 8, 9) has a direction.
    """
    if direction not in ("sign", "significant"):
        raise NepInputError(f"direction must be 'sign' or 'significant', got {direction!r}", variable="direction")
    if not np.isfinite(threshold):
        raise NepInputError(f"threshold must be finite, got {threshold!r}", variable="threshold")
    h = _as_float(hurst, "hurst")
    d = _direction(trend, direction, alpha, eps)
    try:
        d, h = xr.align(d, h, join="exact")
    except ValueError as exc:
        raise NepInputError(f"trend and hurst grids differ: {exc}", variable="hurst") from exc
    pers = xr.where(h > threshold, 1, xr.where(h < threshold, -1, 0))
    code = xr.where(d > 0, xr.where(pers > 0, 1, xr.where(pers < 0, 2, 5)),
                    xr.where(d < 0, xr.where(pers > 0, 4, xr.where(pers < 0, 3, 5)), 5))
    code = xr.where(np.isnan(d) | np.isnan(h), 0, code).astype(np.int8)
    return code.rename("persistence_class").assign_attrs(flag_attrs(
        PERSISTENCE_CLASSES, f"trend x Hurst class (H threshold {threshold:g})", threshold=float(threshold),
        direction=direction,
        description=f"trend direction by {direction!r} (Sen slope sign, |slope| < {eps:g} = no trend"
                    + (f", MK p < {alpha:g}" if direction == "significant" else "")
                    + f"); persistent if H > {threshold:g}, anti-persistent if H < {threshold:g}; 0 = no data"))


def classify_statistics(stats_ds: xr.Dataset, null: pd.DataFrame, st=_DEFAULTS,
                        seed: int = 20000101) -> xr.Dataset:
    """Every categorical map and map-level FDR flag of ``nep_core.stats.per_pixel_statistics``
    output, with the H null quantiles ``null`` (``stats.hurst_null_table``) and the ``Stats`` config.

    Returns a Dataset with ``trend_class`` (Table 1), ``trend_sig_fdr`` (configured correction) and
    ``trend_sig_fdr_<c>`` per correction (BH at ``fdr_alpha``), ``nep_class``, ``cv_class``
    (Fisher-Jenks, ``n_breaks`` classes), ``persistence_class`` (H threshold 0.5) and
    ``persistence_class_calibrated`` (H threshold = the ``hurst_null_q`` null quantile).
    """
    out = xr.Dataset()
    tr = xr.Dataset({"slope": stats_ds["trend_slope"], "z": stats_ds["trend_z"], "p": stats_ds["trend_p"]})
    out["trend_class"] = trend_class(tr, eps=st.stable_eps)
    variant = st.correction or NO_CORRECTION
    sig = fdr(stats_ds["trend_p"].load(), alpha=st.fdr_alpha)
    out["trend_sig_fdr"] = sig.astype(np.int8).assign_attrs(sig.attrs, variant=variant)
    for c in (NO_CORRECTION, *CORRECTIONS):
        s = fdr(stats_ds["trend_p" if c == variant else f"trend_p_{c}"].load(), alpha=st.fdr_alpha)
        out[f"trend_sig_fdr_{c}"] = s.astype(np.int8).assign_attrs(s.attrs, variant=c)
    out["nep_class"] = nep_class(stats_ds["nep_mean"])
    cv = stats_ds["cv"].load()
    if not np.isfinite(cv.values).any():
        why = reasons.describe_counts(reasons.counts(stats_ds["cv_reason"].values))
        raise NepInputError(f"Cv is masked at every pixel, nothing to classify (reason counts: {why}): is "
                            "NEP usable (NPP all fill, or mean NEP <= stats.cv_min_mean = "
                            f"{st.cv_min_mean:g} g C m-2 a-1 everywhere)?", variable="cv")
    edges = natural_breaks(cv, k=st.n_breaks, sample=st.breaks_sample, seed=seed)
    cc = classify_breaks(cv, edges, names=CV_CLASS_NAMES if len(CV_CLASS_NAMES) == st.n_breaks else None)
    out["cv_class"] = cc.assign_attrs(
        long_name="Cv class (Fisher-Jenks)",
        description=f"Fisher-Jenks natural breaks (exact least-squares optimum, jenkspy), k = {st.n_breaks}, "
                    f"fitted on a seeded sample of <= {st.breaks_sample} pixels")
    h = stats_ds["hurst"]
    out["persistence_class"] = persistence_class(tr, h, threshold=0.5, eps=st.stable_eps)
    row = null[(null["method"] == st.hurst_method) & np.isclose(null["quantile"], st.hurst_null_q)]
    thr = float(row["hurst"].iloc[0])
    pc = persistence_class(tr, h, threshold=thr, eps=st.stable_eps)
    out["persistence_class_calibrated"] = pc.assign_attrs(
        long_name=f"trend x Hurst class (H > iid-null q{st.hurst_null_q:g} = {thr:.3f})",
        null_quantile=st.hurst_null_q, null_method=st.hurst_method, null_sims=st.hurst_null_sims)
    return out
