"""Partial correlation of a target with each driver, controlling for the other drivers."""
from __future__ import annotations

import numpy as np
import xarray as xr

from .. import reasons
from ..errors import NepInputError
from . import _kernels as K
from ._common import apply_rows, check_input, name_of, resolve_min_valid


def _pcorr_rows(*y2, min_valid):
    # one numba type for the tuple: the rows as they come where they already share one (the
    # pipeline's time-first blocks: Fortran-ordered views), else views of one stacked copy
    if len({(a.dtype, a.flags.c_contiguous, a.flags.f_contiguous) for a in y2}) == 1:
        xs = tuple(y2)
    else:
        stacked = np.stack([np.asarray(a, np.result_type(*y2)).T for a in y2])   # (nvar, n, npix)
        xs = tuple(v.T for v in stacked)
    r, p, nval, reason = K.partial_corr_kernel(xs, min_valid)
    return r.T, p.T, nval, reason


def partial_corr(target: xr.DataArray, drivers: dict, dim: str = "year",
                 min_valid: int | None = None) -> xr.Dataset:
    """Partial correlation of ``target`` with each driver, controlling for all the other drivers.

    Parameters
    ----------
    drivers : dict of str -> xarray.DataArray
        At least one; same dims and coordinates as ``target``.
    min_valid : int, optional
        Fewest years kept after listwise deletion (>= k + 3, df >= 1); None: ceil(0.8 n)
        (``resolve_min_valid``).

    Returns
    -------
    xarray.Dataset over the dims of ``target`` without ``dim``: ``r_<name>`` and ``p_<name>`` per
    driver (float64, units "1"), ``n_valid`` (int16) and ``reason`` (int8, nep_core.reasons).

    Variant: listwise deletion of every year missing in any variable; each series standardised
    (population SD) on the kept years; P = inverse correlation matrix,
    r_{target,j.rest} = -P_0j / sqrt(P_00 P_jj) (k = len(drivers) - 1 controls); two-sided Student-t
    p with t = r sqrt((n-2-k)/(1-r^2)), df = n-2-k. Zero variance or a singular correlation matrix
    -> NaN with reason CONSTANT; a driver without finite values -> NO_COVARIATE.

    References
    ----------
    Whittaker (1990) Graphical Models in Applied Multivariate Statistics, Wiley; the values equal
    ``pingouin.partial_corr`` (tests).
    """
    if not isinstance(drivers, dict) or not drivers:
        raise NepInputError("drivers must be a non-empty dict of name -> DataArray", variable="drivers")
    k = len(drivers) - 1
    names = list(drivers)
    for nm in names:
        if not isinstance(nm, str) or not nm.isidentifier():
            raise NepInputError(f"driver names must be identifiers, got {nm!r}", variable="drivers")
    tgt = check_input(target, dim, "target")
    min_valid, mv = resolve_min_valid(min_valid, tgt.sizes[dim], k + 3,
                                      f"partial correlation with {k} controls")
    drv = [check_input(drivers[nm], dim, nm) for nm in names]
    for nm, d in zip(names, drv):
        if set(d.dims) != set(tgt.dims):
            raise NepInputError(f"dims {tuple(d.dims)} differ from the target's {tuple(tgt.dims)}",
                                variable=nm)
        for c in tgt.dims:
            a, b = tgt.indexes.get(c), d.indexes.get(c)
            if tgt.sizes[c] != d.sizes[c] or (a is None) != (b is None) or (a is not None and not a.equals(b)):
                raise NepInputError(f"coordinate {c!r} differs from the target's (align the inputs first)",
                                    variable=nm)
    arrays = [tgt, *(d.transpose(*tgt.dims) for d in drv)]
    if any(a.chunks is not None for a in arrays):
        arrays = xr.unify_chunks(*(a.chunk(tgt.chunksizes) if tgt.chunks is not None else a.chunk({dim: -1})
                                   for a in arrays))
    nd = len(names)
    outs = apply_rows(_pcorr_rows, arrays, dim, [np.float64] * (2 * nd) + [np.int16, np.int8],
                      dict(min_valid=min_valid))
    tname = name_of(target, "target")
    desc = ("partial Pearson correlation from the inverse correlation matrix of the standardised series "
            f"(listwise deletion of missing years; {k} control variable(s)); two-sided Student-t p "
            f"with df = n - 2 - {k}")
    data = {}
    for j, nm in enumerate(names):
        others = " ".join(o for o in names if o != nm)
        data[f"r_{nm}"] = outs[j].rename(f"r_{nm}").assign_attrs(
            units="1", long_name=f"partial correlation of {tname} with {nm}",
            description=desc, controls=others, **mv)
        data[f"p_{nm}"] = outs[nd + j].rename(f"p_{nm}").assign_attrs(
            units="1", long_name=f"two-sided p of the partial correlation of {tname} with {nm}",
            description=f"t = r sqrt(df / (1 - r^2)), df = n_valid - 2 - {k}", controls=others, **mv)
    data["n_valid"] = outs[-2].rename("n_valid").assign_attrs(units="1", long_name="years kept (listwise)")
    data["reason"] = outs[-1].rename("reason").assign_attrs(
        reasons.flag_attrs("reason code of the partial correlation"), **mv)
    return xr.Dataset(data, attrs={"description": desc, "drivers": " ".join(names), **mv})
