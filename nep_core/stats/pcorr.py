"""Partial correlation of a target with each driver, controlling for the other drivers."""
from __future__ import annotations

import numpy as np
import xarray as xr

from ..errors import NepInputError
from . import _kernels as K
from ._common import apply_rows, check_input, min_valid_attrs, name_of, reason_attrs, resolve_min_valid


def _pcorr_rows(*y2, min_valid):
    # the kernel takes a tuple of arrays of one numba type: the rows as they come where they
    # already are (the pipeline's time-first blocks give Fortran-ordered views: no copy), else
    # views of one stacked copy
    if len({(a.dtype, a.flags.c_contiguous, a.flags.f_contiguous) for a in y2}) == 1:
        xs = tuple(y2)
    else:
        stacked = np.stack([np.asarray(a, np.result_type(*y2)).T for a in y2])   # (nvar, n, npix)
        xs = tuple(v.T for v in stacked)
    r, p, nval, reason = K.partial_corr_kernel(xs, min_valid)
    outs = []
    for j in range(r.shape[1]):
        outs += [r[:, j], p[:, j]]
    return (*outs, nval, reason)


def partial_corr(target: xr.DataArray, drivers: dict, dim: str = "year", min_valid: int | None = None) -> xr.Dataset:
    """Partial correlation of ``target`` with each driver, controlling for all the other drivers.

    Parameters
    ----------
    target : xarray.DataArray
        E.g. NEP on (year, y, x); numpy- or dask-backed.
    drivers : dict of str -> xarray.DataArray
        At least one driver; same dims and coordinates as ``target`` (mismatch -> NepInputError).
    dim : str
        Time dimension.
    min_valid : int, optional
        Fewest years kept after listwise deletion (>= k + 3, df >= 1). Default (None): ceil(0.8 n)
        of the n years along ``dim``; an integer is absolute (``stats._common.resolve_min_valid``;
        the rule is in the attrs ``min_valid`` / ``min_valid_rule`` of every output).

    Returns
    -------
    xarray.Dataset over the dims of ``target`` without ``dim``: ``r_<name>`` and ``p_<name>`` per
    driver (float64, units "1"), ``n_valid`` (int16) and ``reason`` (int8, nep_core.reasons).

    Variant: listwise deletion of every year missing in any variable; each series standardised
    (population SD) on the kept years; R = correlation matrix, P = R^-1,
    r_{target,j.rest} = -P_0j / sqrt(P_00 P_jj) (k = len(drivers) - 1 controls); two-sided p from
    Student t with t = r sqrt((n-2-k)/(1-r^2)), df = n-2-k. Zero-variance series or a singular
    correlation matrix (perfect collinearity) -> NaN with reason CONSTANT; a driver with no finite
    value at a pixel -> NO_COVARIATE; any inf -> NON_FINITE_INPUT.

    References
    ----------
    Whittaker (1990) Graphical Models in Applied Multivariate Statistics, Wiley (partial correlations
    from the inverse correlation matrix); the values equal ``pingouin.partial_corr`` (tests).
    """
    if not isinstance(drivers, dict) or not drivers:
        raise NepInputError("drivers must be a non-empty dict of name -> DataArray", variable="drivers")
    k = len(drivers) - 1
    lowest = k + 3
    names = list(drivers)
    for nm in names:
        if not isinstance(nm, str) or not nm.isidentifier():
            raise NepInputError(f"driver names must be identifiers, got {nm!r}", variable="drivers")
    tgt = check_input(target, dim, "target")
    min_valid, rule = resolve_min_valid(min_valid, tgt.sizes[dim], lowest,
                                        f"partial correlation with {k} controls")
    mv_attrs = min_valid_attrs(min_valid, rule)
    drv = [check_input(drivers[nm], dim, nm) for nm in names]
    for nm, d in zip(names, drv):
        if set(d.dims) != set(tgt.dims):
            raise NepInputError(f"dims {tuple(d.dims)} differ from the target's {tuple(tgt.dims)}", variable=nm)
        for c in tgt.dims:
            a = tgt.indexes.get(c) if c in tgt.coords else None
            b = d.indexes.get(c) if c in d.coords else None
            if (a is None) != (b is None) or (a is not None and not a.equals(b)) or tgt.sizes[c] != d.sizes[c]:
                raise NepInputError(f"coordinate {c!r} differs from the target's (align the inputs first)",
                                    variable=nm)
    drv = [d.transpose(*tgt.dims) for d in drv]
    arrays = [tgt, *drv]
    if any(a.chunks is not None for a in arrays):
        arrays = [a.chunk(tgt.chunksizes) if tgt.chunks is not None else a.chunk({dim: -1}) for a in arrays]
        arrays = xr.unify_chunks(*arrays)
    outs = apply_rows(_pcorr_rows, arrays, dim, [np.float64] * (2 * len(names)) + [np.int16, np.int8],
                      dict(min_valid=min_valid))
    tname = name_of(target, "target")
    desc = ("partial Pearson correlation from the inverse correlation matrix of the standardised series "
            f"(listwise deletion of missing years; {k} control variable(s)); two-sided Student-t p "
            f"with df = n - 2 - {k}")
    data = {}
    for j, nm in enumerate(names):
        others = [o for o in names if o != nm]
        data[f"r_{nm}"] = outs[2 * j].rename(f"r_{nm}").assign_attrs(
            units="1", long_name=f"partial correlation of {tname} with {nm}",
            description=desc, controls=" ".join(others), **mv_attrs)
        data[f"p_{nm}"] = outs[2 * j + 1].rename(f"p_{nm}").assign_attrs(
            units="1", long_name=f"two-sided p of the partial correlation of {tname} with {nm}",
            description=f"t = r sqrt(df / (1 - r^2)), df = n_valid - 2 - {k}", controls=" ".join(others),
            **mv_attrs)
    data["n_valid"] = outs[-2].rename("n_valid").assign_attrs(units="1", long_name="years kept (listwise)")
    data["reason"] = outs[-1].rename("reason").assign_attrs(
        reason_attrs("reason code of the partial correlation"), **mv_attrs)
    return xr.Dataset(data, attrs={"description": desc, "drivers": " ".join(names), **mv_attrs})
