"""Theil-Sen slope + Mann-Kendall test per pixel (public wrapper ``sen_mk``)."""
from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.stats import norm

from .. import reasons, vocab
from ..errors import NepInputError
from . import _kernels as K
from ._common import (DEFAULTS, apply_rows, check_choices, check_input, per_year, resolve_min_valid,
                      time_values)

#: public name (``nep_core.vocab.CORRECTIONS``; None = no correction) -> kernel code ``K.CORR_<NAME>``
CORRECTIONS = {None: K.CORR_NONE, **{c: getattr(K, f"CORR_{c.upper()}") for c in vocab.CORRECTIONS}}

_CORR_TEXT = {
    None: "no autocorrelation correction",
    "hamed_rao": ("Hamed & Rao (1998) variance correction: Var(S) * n/n*, n/n* = 1 + 2/(n(n-1)(n-2)) "
                  "sum_i (n-i)(n-i-1)(n-i-2) rho_i over the lags i = 1..n-1 whose rank autocorrelation "
                  "of the Sen-detrended series lies outside +/- z_{1-alpha/2}/sqrt(n); where n/n* <= 0 "
                  "(Var <= 0) z and p are NaN with reason NEGATIVE_VARIANCE (no floor)"),
    "yue_wang": ("Yue & Wang (2004) effective-sample-size correction for an AR(1) process: Var(S) * n/n*, "
                 "n/n* = 1 + 2 sum_{k=1}^{n-1} (1 - k/n) r1^k, r1 = lag-1 sample autocorrelation "
                 "(biased, as R acf) of the Sen-detrended series; a constant detrended series (r1 "
                 "undefined) gives NaN z, p with reason NEGATIVE_VARIANCE"),
    "tfpw": ("trend-free pre-whitening (Yue et al. 2002): detrend with the Sen slope, remove the lag-1 "
             "AR(1) part (w_i = e_i - rho_1 e_{i-1}, consecutive valid years), add the trend back, "
             "S / Var(S) / Z / p of those n-1 values"),
}


def sen_mk(da: xr.DataArray, dim: str = "year", alpha: float = DEFAULTS.alpha,
           correction: str | None = None, min_valid: int | None = DEFAULTS.min_valid,
           extra_corrections=()) -> xr.Dataset:
    """Theil-Sen slope with its rank-based confidence interval and the Mann-Kendall trend test.

    Parameters
    ----------
    da : xarray.DataArray
        Any dims including ``dim``, whose coordinate gives the time positions (years; datetime64
        becomes decimal years); NaN = missing year; ``units`` give the slope units.
    alpha : float
        The slope CI is at 1 - alpha; also the lag-significance level of ``hamed_rao``.
    correction : {None, "hamed_rao", "yue_wang", "tfpw"}
        Autocorrelation correction of the test (METHODS section 2); never of slope, CI or tau.
    min_valid : int, optional
        Fewest finite years (>= 3; >= 4 for ``tfpw``); None: ceil(0.8 n) (``resolve_min_valid``).
    extra_corrections : sequence of {None, "none", "hamed_rao", "yue_wang", "tfpw"}
        Further corrections computed in the same pass: adds ``z_<name>`` and ``p_<name>`` (``none``
        for None), equal to ``z`` / ``p`` of ``sen_mk(da, correction=name)``.

    Returns
    -------
    xarray.Dataset over the non-``dim`` dims: ``slope`` (median pairwise slope, units per year), its
    rank CI ``slope_low``, ``slope_high`` (from the UNCORRECTED Var(S): Sen 1968, as R trend::sens.slope
    and scipy.stats.theilslopes), ``intercept`` (value at t = 0, scipy ``method="separate"``), ``s``,
    ``var_s`` (times n/n* for hamed_rao and yue_wang; of the n-1 pre-whitened values for tfpw), ``z``,
    ``p`` (two-sided normal), ``tau`` (Kendall tau-b of the original series, as scipy; not
    pymannkendall's tau-a), ``n_valid`` (int16), ``reason`` (int8, nep_core.reasons). Each variable's
    ``description`` attr gives its formula. A constant series: slope, its CI, s, var_s = 0, z = p =
    tau = NaN, reason CONSTANT.

    References
    ----------
    Sen (1968) JASA 63: 1379-1389. Mann (1945), Kendall (1975). Hamed & Rao (1998) J. Hydrol. 204:
    182-196. Yue & Wang (2004) Water Resour. Manag. 18: 201-218. Yue et al. (2002) Hydrol. Process.
    16: 1807-1829.
    """
    extra = [None if c in (None, "none") else c for c in extra_corrections]
    check_choices(correction, extra, CORRECTIONS, "correction", "extra_corrections")
    if not (0.0 < float(alpha) < 1.0):
        raise NepInputError(f"alpha must be in (0, 1), got {alpha!r}", variable="alpha")
    da = check_input(da, dim, "input")
    lowest = 4 if "tfpw" in (correction, *extra) else 3
    min_valid, mv = resolve_min_valid(min_valid, da.sizes[dim], lowest, "Mann-Kendall")
    zc = float(norm.ppf(1.0 - alpha / 2.0))
    outs = apply_rows(
        K.sen_mk_kernel, da, dim, [np.float64] * 9 + [np.int16, np.int8] + [np.float64] * (2 * len(extra)),
        dict(t=time_values(da, dim), z_ci=zc, z_acf=zc, min_valid=min_valid,
             correction=CORRECTIONS[correction], extra=np.array([CORRECTIONS[c] for c in extra], np.int64)))
    names = ("slope", "slope_low", "slope_high", "intercept", "s", "var_s", "z", "p", "tau",
             "n_valid", "reason")
    units_in = da.attrs.get("units", "")
    su = per_year(units_in)
    ci = f"{100 * (1 - alpha):g}%"
    variant = (f"Theil-Sen slope (true time spacing from {dim!r}, gaps allowed) with rank-based "
               f"{ci} CI; Mann-Kendall S with tie-corrected Var(S), continuity-corrected "
               f"Z, two-sided normal p; {_CORR_TEXT[correction]}")

    def z_p_attrs(c, tag=""):
        return ({"units": "1", "long_name": "Mann-Kendall Z" + tag, "description": "(S-1)/sqrt(Var) if S>0, "
                 "0 if S=0, (S+1)/sqrt(Var) if S<0; " + _CORR_TEXT[c]},
                {"units": "1", "long_name": "two-sided p-value of the Mann-Kendall test" + tag,
                 "description": "p = 2 (1 - Phi(|Z|)); " + _CORR_TEXT[c]})

    attrs = {
        "slope": {"units": su, "long_name": "Theil-Sen slope", "description": variant},
        "slope_low": {"units": su, "long_name": f"lower {ci} bound of the Theil-Sen slope",
                      "description": "pairwise slope at 1-based rank round((N-C)/2), C = z_{1-alpha/2} "
                                     "sqrt(uncorrected Var(S)) (Sen 1968; R trend; scipy theilslopes)"},
        "slope_high": {"units": su, "long_name": f"upper {ci} bound of the Theil-Sen slope",
                       "description": "pairwise slope at 1-based rank round((N+C)/2) + 1"},
        "intercept": {"units": units_in, "long_name": "Theil-Sen intercept at t = 0",
                      "description": f"median(y) - slope * median(t), t = {dim!r} coordinate values "
                                     "(scipy.stats.theilslopes method='separate')"},
        "s": {"units": "1", "long_name": "Mann-Kendall S", "description": "sum_{i<j} sign(y_j - y_i)"
              + ("; of the pre-whitened series" if correction == "tfpw" else "")},
        "var_s": {"units": "1", "long_name": "variance of S",
                  "description": "[n(n-1)(2n+5) - sum t_p(t_p-1)(2t_p+5)]/18; " + _CORR_TEXT[correction]},
        "tau": {"units": "1", "long_name": "Kendall tau-b",
                "description": "tau-b = S / sqrt(n0 (n0 - n1)), n0 = n(n-1)/2, n1 = sum t(t-1)/2 over ties "
                               "in y (as scipy.stats.kendalltau); uncorrected original series"},
        "n_valid": {"units": "1", "long_name": "number of finite years used", **mv},
        "reason": {**reasons.flag_attrs("reason code of the trend statistics"), **mv},
    }
    attrs["z"], attrs["p"] = z_p_attrs(correction)
    ds = xr.Dataset({k: v.rename(k).assign_attrs(attrs[k]) for k, v in zip(names, outs)})
    for j, c in enumerate(extra):
        tag = c or "none"
        z_attrs, p_attrs = z_p_attrs(c, f", {tag}")
        ds[f"z_{tag}"] = outs[11 + j].assign_attrs(z_attrs)
        ds[f"p_{tag}"] = outs[11 + len(extra) + j].assign_attrs(p_attrs)
    ds.attrs = {"description": variant, "alpha": float(alpha), "correction": str(correction), **mv,
                "input_units": units_in}
    return ds
