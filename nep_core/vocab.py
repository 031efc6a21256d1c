"""The shared vocabulary: every name, code and unit that more than one module uses, defined once.

:func:`check_units` is the one units check at a module boundary; :func:`unit_conversion` gives the
factor a reader applies to a declared unit it converts. Kernel codes of the variants stay in
``stats._kernels``.
"""
from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from .errors import NepInputError, warn_input

Province = namedtuple("Province", "code name adcode")
Province.__doc__ = "One province of the study region: analysis code (1..5), English name, GB/T 2260 adcode."

#: The five provinces of Northwest China (code 0 = outside the region).
PROVINCES: tuple[Province, ...] = (
    Province(1, "Shaanxi", 610000),
    Province(2, "Gansu", 620000),
    Province(3, "Qinghai", 630000),
    Province(4, "Ningxia", 640000),
    Province(5, "Xinjiang", 650000),
)
PROVINCE_NAMES = {p.code: p.name for p in PROVINCES}
#: Name of the whole study region in tables and figures.
REGION_NAME = "NWC"

#: The study's seven land-cover classes (code -> name); 0 = no data.
LANDCOVER_CLASSES = {1: "forest", 2: "grassland", 3: "cropland", 4: "wetland", 5: "urban and built-up",
                     6: "water", 7: "barren"}

#: Dry/wet zones from the annual-precipitation isohyets (mm a-1): code -> (name, lower, upper); 0 = no data.
DRYWET_ZONES = {
    1: ("arid", 0.0, 200.0),
    2: ("semi-arid", 200.0, 400.0),
    3: ("semi-humid", 400.0, 800.0),
    4: ("humid", 800.0, np.inf),
}
DRYWET_ISOHYETS_MM = tuple(lo for _, lo, _ in DRYWET_ZONES.values() if lo > 0)

#: Autocorrelation corrections of the Mann-Kendall test (besides no correction).
CORRECTIONS = ("hamed_rao", "yue_wang", "tfpw")
#: How "no correction" is spelled where ``None`` cannot be (TOML, variable names ``trend_p_none``).
NO_CORRECTION = "none"
#: Variants of the Hurst exponent by rescaled-range analysis.
HURST_METHODS = ("prefix", "diff", "alp")


@dataclass(frozen=True)
class Quantity:
    """A physical quantity: its unit as written (``units[0]``), the other accepted spellings of the
    same unit, the units a reader converts (spelling -> (factor, offset) to ``units[0]``), and the
    plausible values pooled over the study region (grid cells or station records) that catch a wrong
    declared unit (:func:`check_plausible`): ``plausible`` maps a statistic (``median``; ``spread`` =
    p75 - p25; ``p95``) to its inclusive ``(lo, hi)``, ``plausible_source`` says where they come from."""

    label: str
    units: tuple[str, ...]
    convert: dict = field(default_factory=dict)
    hint: str = ""
    plausible: dict | None = None
    plausible_source: str = ""


_CM_M = {"cm": (10.0, 0.0), "m": (1000.0, 0.0)}
_KJ_J = {"kJ m-2": (1e-3, 0.0), "J m-2": (1e-6, 0.0)}
_PRCP_HINT = "convert explicitly: m * 1000, or kg m-2 s-1 * seconds per step"
_RAD_HINT = "convert explicitly: W m-2 * seconds per step / 1e6"
_KG_C = {u: (1000.0, 0.0) for u in ("kg C m-2 a-1", "kg C m-2 yr-1", "kg C/m^2", "kg C/m2", "kg C/m^2/yr")}

_NWC = "wide bounds around Northwest China"
_STATION_CLIMATE = f"{_NWC}'s CMA station climate (the default scenario's values are inside)"

#: Every quantity whose units are checked; spellings match ignoring white space. "C" is accepted for
#: a temperature (it can only mean degC there; station CSV headers "tmean[C]"); outputs write "degC".
QUANTITIES: dict[str, Quantity] = {
    "temperature": Quantity("air temperature", ("degC", "°C", "degree_Celsius", "celsius", "C"),
                            {"K": (1.0, -273.15)}, "convert explicitly: K - 273.15",
                            {"median": (-25.0, 30.0)}, f"{_STATION_CLIMATE}: annual means about -5..15 degC"),
    "precipitation_daily": Quantity("daily precipitation", ("mm d-1", "mm", "mm day-1", "mm/day"),
                                    _CM_M, _PRCP_HINT, {"median": (0.0, 50.0), "p95": (0.5, 200.0)},
                                    f"{_STATION_CLIMATE}: most days dry, wet days 1..50 mm"),
    "precipitation_monthly": Quantity("monthly precipitation",
                                      ("mm month-1", "mm", "mm/month", "mm per month"), _CM_M, _PRCP_HINT,
                                      {"median": (0.5, 300.0)},
                                      f"{_STATION_CLIMATE}: annual totals about 20..800 mm"),
    "precipitation_annual": Quantity("annual precipitation",
                                     ("mm a-1", "mm", "mm/a", "mm/year", "mm yr-1", "mm year-1"), _CM_M,
                                     _PRCP_HINT),
    "radiation_daily": Quantity("daily global solar radiation", ("MJ m-2 d-1", "MJ m-2", "MJ m-2 day-1"),
                                _KJ_J, _RAD_HINT, {"median": (2.0, 35.0)},
                                f"{_STATION_CLIMATE}: about 5..28 MJ m-2 d-1"),
    "radiation_monthly": Quantity("monthly global solar radiation", ("MJ m-2 month-1", "MJ m-2"),
                                  _KJ_J, _RAD_HINT, {"median": (60.0, 1000.0)},
                                  f"{_STATION_CLIMATE}: annual totals about 4500..7000 MJ m-2"),
    "radiation_annual": Quantity("annual global solar radiation", ("MJ m-2 a-1", "MJ m-2"), _KJ_J,
                                 _RAD_HINT),
    "elevation": Quantity("elevation", ("m", "metre", "meter", "metres", "meters"), {"km": (1000.0, 0.0)},
                          plausible={"median": (100.0, 5500.0), "spread": (20.0, 5000.0)},
                          plausible_source=f"{_NWC}: basins near 0..1500 m, the Tibetan Plateau near "
                          "4500 m (the shipped DEM: median 1826 m, spread 2631 m)"),
    "area": Quantity("cell area", ("km2", "km^2", "km**2")),
    "carbon_flux": Quantity("annual carbon flux (NPP, Rh, NEP)", ("g C m-2 a-1",), _KG_C,
                            "convert explicitly: kg C m-2 a-1 * 1000", {"median": (10.0, 1500.0)},
                            f"{_NWC}'s MOD17A3HGF NPP of vegetated cells: about 50..600 g C m-2 a-1, "
                            "MOD17's valid maximum 3270"),
    "carbon_flux_monthly": Quantity("monthly carbon flux (Rh)", ("g C m-2 month-1",)),
    "carbon_trend": Quantity("trend of an annual carbon flux", ("g C m-2 a-2",)),
}
#: The unit written for each quantity.
UNITS = {name: q.units[0] for name, q in QUANTITIES.items()}
NEP_UNITS = UNITS["carbon_flux"]
SLOPE_UNITS = UNITS["carbon_trend"]
RH_MONTHLY_UNITS = UNITS["carbon_flux_monthly"]
AREA_UNITS = UNITS["area"]

#: The climate variables (station tables, surfaces, drivers) and the quantity of each; precipitation
#: and radiation are totals per time step (``{step}``: daily, monthly or annual).
CLIMATE_QUANTITIES = {"tmean": "temperature", "prcp": "precipitation_{step}", "rad": "radiation_{step}"}


def climate_quantity(var: str, step: str) -> str:
    """The :data:`QUANTITIES` key of climate variable ``var`` at ``step`` (``prcp``, monthly ->
    ``precipitation_monthly``)."""
    return CLIMATE_QUANTITIES[var].format(step=step)


Driver = namedtuple("Driver", "long_name units")
#: Climate drivers of the partial correlations: variable -> (display name, units of the annual values).
DRIVERS = {v: Driver(name, UNITS[climate_quantity(v, "annual")])
           for v, name in (("tmean", "temperature"), ("prcp", "precipitation"), ("rad", "solar radiation"))}


def _squeeze(units) -> str:
    return "".join(str(units).split())


def _quantity(quantity: str) -> Quantity:
    if quantity not in QUANTITIES:
        raise KeyError(f"unknown quantity {quantity!r}; known: {', '.join(QUANTITIES)}")
    return QUANTITIES[quantity]


def _refuse(q: Quantity, units, accepted, *, file, variable, hint=True):
    spellings = ", ".join(repr(u) for u in accepted)
    if units is None or str(units).strip() == "":
        problem = f"no 'units' attribute; {q.label} needs units {q.units[0]!r}"
    else:
        problem = f"units {units!r} not accepted for {q.label}; expected units {q.units[0]!r}"
    advice = f"; {q.hint}" if q.hint and hint else ""
    raise NepInputError(f"{problem} (accepted spellings: {spellings}){advice}", file=file, variable=variable)


def check_units(obj, quantity: str, *, file=None, variable: str | None = None,
                missing_ok: bool = False) -> str | None:
    """Raise unless ``obj`` carries an accepted spelling of ``quantity``'s unit (no conversion).

    ``obj`` is a DataArray, an attribute mapping or the units string itself; ``quantity`` a key of
    :data:`QUANTITIES`. The :class:`NepInputError` names ``file`` and ``variable`` (default: the
    DataArray's name), the units found, the unit expected and every accepted spelling.
    ``missing_ok`` accepts absent units (returns ``None``); otherwise the units as found are returned.
    """
    q = _quantity(quantity)
    attrs = getattr(obj, "attrs", obj)
    mapping = isinstance(attrs, Mapping)
    units, name = (attrs.get("units"), getattr(obj, "name", None)) if mapping else (obj, None)
    variable = variable if variable is not None else name
    if missing_ok and (units is None or str(units).strip() == ""):
        return None
    if units is None or _squeeze(units) not in {_squeeze(u) for u in q.units}:
        _refuse(q, units, q.units, file=file, variable=variable)
    return units


def unit_conversion(units, quantity: str, *, file=None, variable: str | None = None) -> tuple[float, float]:
    """``(factor, offset)`` taking values in the declared ``units`` to ``quantity``'s unit
    (``value * factor + offset``): ``(1.0, 0.0)`` for an accepted spelling, the declared conversion
    of :data:`QUANTITIES` for other units (``K`` -> ``(1.0, -273.15)``); else raises like
    :func:`check_units`."""
    q = _quantity(quantity)
    factors = {_squeeze(u): c for u, c in q.convert.items()} | {_squeeze(u): (1.0, 0.0) for u in q.units}
    if units is not None and _squeeze(units) in factors:
        return factors[_squeeze(units)]
    _refuse(q, units, (*q.units, *q.convert), file=file, variable=variable, hint=False)


#: How a user relaxes :func:`check_plausible` (named in its messages).
RELAX_PLAUSIBLE = ("if the values are right, set `[checks] plausible_ranges = false` in the config "
                   "(the check then warns)")
_SAMPLE = 1_000_000
_STATS = {"median": lambda v: np.percentile(v, 50),
          "spread": lambda v: np.subtract(*np.percentile(v, [75, 25])),
          "p95": lambda v: np.percentile(v, 95)}


def check_plausible(values, quantity: str, *, file=None, variable: str | None = None, what: str = "",
                    hint: str = "", strict: bool = True) -> dict:
    """Raise (or warn, ``strict=False``) when a statistic of the finite ``values`` (in ``quantity``'s
    unit, pooled over the study region) lies outside ``QUANTITIES[quantity].plausible``.

    Catches a wrong declared unit that min / max checks pass (a DEM in km tagged m, g C declared
    kg C, metres declared mm). Statistics of more than 10**6 values use an evenly strided sample.
    The message names ``file``, ``variable``, ``what`` (e.g. the year), the statistic, the bounds,
    their source, ``hint`` (default: the quantity's conversion hint) and :data:`RELAX_PLAUSIBLE`.
    Returns ``{statistic: value}`` (empty when no value is finite: the caller reports that).
    """
    q = _quantity(quantity)
    v = np.asarray(values).ravel()
    v = v[np.isfinite(v)]
    if v.size > _SAMPLE:
        v = v[::v.size // _SAMPLE]
    if q.plausible is None or v.size == 0:
        return {}
    v = v.astype(np.float64)
    unit = q.units[0]
    found = {}
    for stat, (lo, hi) in q.plausible.items():
        x = found[stat] = float(_STATS[stat](v))
        if lo <= x <= hi:
            continue
        problem = (f"{what + ': ' if what else ''}{stat} {x:.4g} {unit} over the region is implausible "
                   f"for {q.label} (expected {lo:g}..{hi:g} {unit}: {q.plausible_source}); "
                   f"{hint or q.hint or 'check the declared unit'}; {RELAX_PLAUSIBLE}")
        if strict:
            raise NepInputError(problem, file=file, variable=variable)
        warn_input(problem, file=file, variable=variable)
    return found

