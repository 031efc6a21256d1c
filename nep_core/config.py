"""One configuration object for the whole pipeline.

Defaults describe the embedded synthetic scenario; a TOML or YAML file overrides any field. Unknown
keys are an error (a typo must not silently fall back to a default).

Example ``nep.toml`` for real data::

    out_dir = "results-real"
    resolution_m = 500
    [inputs]
    npp = "/data/MOD17A3HGF/*.hdf"
    landcover = "/data/MCD12Q1/*.hdf"
    stations = "/data/cma/SURF_CLI_CHN_MUL_DAY.txt"
    station_layout = "cma"
    dem = "/data/dem_500m.tif"
    boundaries = "/data/nwc_provinces.geojson"
    [stats]
    alpha = 0.05
    correction = "hamed_rao"
    hurst_method = "prefix"
    [checks]
    station_max_km = 200

``Config.validate()`` checks every parameter; its errors name the config file and the key.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import numbers
import os
from dataclasses import dataclass, field, fields
from operator import attrgetter
from pathlib import Path

from .errors import NepConfigError
from .vocab import CORRECTIONS, HURST_METHODS, NO_CORRECTION


@dataclass(frozen=True)
class Inputs:
    """Input locations. ``None`` everywhere means: use the embedded synthetic scenario."""

    npp: str | None = None            # MOD17A3HGF files (HDF4 tiles or GeoTIFF exports), glob allowed
    landcover: str | None = None      # MCD12Q1 LC_Type1 files (HDF4 or GeoTIFF), glob allowed
    stations: str | None = None       # station table (CSV)
    station_layout: str = "csv"       # "csv" (documented long layout) or "cma"
    dem: str | None = None            # DEM GeoTIFF (m)
    boundaries: str | None = None     # province outlines, GeoJSON or shapefile
    drywet: str | None = None         # dry/wet zone polygons (optional; default: isohyets of mean P)

    @property
    def synthetic(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self) if f.name != "station_layout")


@dataclass(frozen=True)
class Stats:
    """Parameters of the per-pixel statistics (see METHODS in the book)."""

    alpha: float = 0.05               # significance level of MK, CI of Sen, partial correlation t-test
    correction: str | None = None     # None (or "none"), "hamed_rao", "yue_wang", "tfpw"
    stable_eps: float = 0.5           # |Sen slope| below this (g C m-2 a-2) is "stable" in Table 1
    min_valid: int | None = None      # fewest finite years per pixel; None: ceil(0.8 * n_years) (20 of 24)
    fdr_alpha: float = 0.10           # map-level BH FDR level (Wilks 2016: 2 x alpha_global)
    cv_ddof: int = 0                  # ddof of the standard deviation in Cv
    cv_min_mean: float = 10.0         # Cv masked where mean NEP <= this (g C m-2 a-1)
    hurst_method: str = "prefix"      # "prefix", "diff", "alp"
    hurst_null_q: float = 0.95        # calibrated persistence threshold: this quantile of H under iid noise
    hurst_null_sims: int = 20000      # Monte Carlo size of the null
    n_breaks: int = 5                 # Fisher-Jenks classes of Cv
    breaks_sample: int = 20000        # seeded sample size for natural breaks on large rasters

    def __post_init__(self):
        # TOML cannot write null: the string "none" (as the README spells it) is no correction
        if isinstance(self.correction, str) and self.correction.strip().lower() == NO_CORRECTION:
            object.__setattr__(self, "correction", None)


@dataclass(frozen=True)
class Rh:
    """Constants of the Pei et al. (2009) soil heterotrophic respiration model.

    Rh_month = a * (exp(b * T) + ln(c * P + 1)) * days * carbon_fraction   [g C m-2 month-1]
    """

    a: float = 0.22
    b: float = 0.0913
    c: float = 0.3145
    days: float = 30.0
    carbon_fraction: float = 0.465


@dataclass(frozen=True)
class Checks:
    """Plausibility checks of the inputs (README, RELIABILITY: which case gives which outcome)."""

    plausible_ranges: bool = True     # inputs' region median / spread within vocab.QUANTITIES; false: warn
    station_max_km: float = 200.0     # stations farther from the region are dropped (warning with ids)


@dataclass(frozen=True)
class Uncertainty:
    """Monte Carlo of the headline numbers (``nep_core.uncertainty``)."""

    draws: int = 50                   # Monte Carlo draws (one dask task chain each)
    rh_prior_pct: float = 10.0        # a, b, c of Pei et al. each uniform within +- this % (stated prior)
    interp_error_scale: float = 1.0   # SD of the T / P error fields = this x the LOO RMSE; 0 = none
    error_spacing_m: float = 100000.0  # node spacing of the coarse error lattice (bilinear between nodes)
    sample_spacing_m: float = 15000.0  # draws use every k-th row/column, k = round(this / resolution_m)


@dataclass(frozen=True)
class Config:
    """Every parameter of a run. ``Config()`` is the embedded default."""

    out_dir: str = "results"
    resolution_m: float = 5000.0      # analysis grid cell size, metres, China Albers equal-area
    first_year: int = 2000
    last_year: int = 2023
    seed: int = 20000101              # seed of the synthetic scenario and of every Monte Carlo
    chunk_xy: int = 256               # spatial chunk edge (pixels); time is never chunked
    scheduler: str | None = None      # dask.distributed address, or None for the local threaded scheduler
    inputs: Inputs = field(default_factory=Inputs)
    stats: Stats = field(default_factory=Stats)
    rh: Rh = field(default_factory=Rh)
    uncertainty: Uncertainty = field(default_factory=Uncertainty)
    checks: Checks = field(default_factory=Checks)

    def __post_init__(self):
        # 5000 and 5000.0 are the same resolution: normalise so fingerprints and cache keys agree
        if isinstance(self.resolution_m, int) and not isinstance(self.resolution_m, bool):
            object.__setattr__(self, "resolution_m", float(self.resolution_m))

    @property
    def years(self) -> list[int]:
        return list(range(self.first_year, self.last_year + 1))

    @property
    def source(self) -> str | None:
        """The file this config was read from (by :func:`load_config`), else None."""
        return self.__dict__.get("_source")

    def replace(self, **changes) -> "Config":
        """A copy with top-level fields or dotted section fields (``"stats.alpha"``) changed."""
        cfg = self
        for key, value in changes.items():
            section, _, name = key.rpartition(".")
            if section:
                value = dataclasses.replace(getattr(cfg, section), **{name: value})
            cfg = dataclasses.replace(cfg, **{section or name: value})
        return cfg._from(self.source)

    def _from(self, source) -> "Config":
        object.__setattr__(self, "_source", None if source is None else str(source))
        return self

    def validate(self) -> "Config":
        """``self`` if every parameter has its type and range, else a NepConfigError naming the
        config file (when read from one), the key (``stats.alpha``) and the rule."""
        for key, (rule, words) in _rules(self).items():
            value = attrgetter(key)(self)
            if not rule(value):
                raise NepConfigError(f"must be {words}; got {value!r}", file=self.source, variable=key)
        n_years = self.last_year - self.first_year + 1
        if self.stats.min_valid is not None and n_years < self.stats.min_valid:
            raise NepConfigError(f"{self.first_year}-{self.last_year} has fewer years ({n_years}) than "
                                 f"stats.min_valid = {self.stats.min_valid}", file=self.source,
                                 variable="stats.min_valid")
        if self.inputs.drywet is not None:
            raise NepConfigError("dry/wet zone polygons are not read yet; leave inputs.drywet unset (zones "
                                 "are then the 200/400/800 mm isohyets of the interpolated mean "
                                 "precipitation)", file=self.source, variable="inputs.drywet")
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def fingerprint(self) -> str:
        """A stable hash of the whole config, for caching."""
        text = json.dumps(self.to_dict(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _real(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


def _int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _path(v) -> bool:
    return v is None or (isinstance(v, str) and v.strip() != "")


def _rules(cfg: Config) -> dict:
    """``{key: (test, the rule in words)}`` for every parameter."""
    st = cfg.stats

    def open01(v):
        return _real(v) and 0 < v < 1

    def positive(v):
        return _real(v) and v > 0

    def at_least(lo):
        return lambda v: _int(v) and v >= lo

    in01, metres = "a number between 0 and 1 (exclusive)", "a positive number of metres"
    return {
        "out_dir": (lambda v: isinstance(v, str) and v.strip() != "", "a directory name"),
        "resolution_m": (positive, metres),
        "first_year": (_int, "a year (integer)"),
        "last_year": (lambda v: _int(v) and _int(cfg.first_year) and v >= cfg.first_year,
                      f"a year (integer) not before first_year = {cfg.first_year!r}"),
        "seed": (at_least(0), "an integer >= 0"),
        "chunk_xy": (at_least(16), "an integer >= 16 (pixels)"),
        "scheduler": (_path, "a dask.distributed address (text), or unset for local threads"),
        **{f"inputs.{k}": (_path, "a path or glob pattern (text), or unset")
           for k in ("npp", "landcover", "stations", "dem", "boundaries", "drywet")},
        "inputs.station_layout": (lambda v: v in ("csv", "cma"), "'csv' or 'cma'"),
        "stats.alpha": (open01, in01),
        "stats.correction": (lambda v: v is None or v in CORRECTIONS,
                             f"one of {', '.join((NO_CORRECTION, *CORRECTIONS))}"),
        "stats.stable_eps": (lambda v: _real(v) and v >= 0, "a number >= 0 (g C m-2 a-2)"),
        "stats.min_valid": (lambda v: v is None or at_least(3)(v),
                            "an integer >= 3 (years), or unset for ceil(0.8 * n_years)"),
        "stats.fdr_alpha": (open01, in01),
        "stats.cv_ddof": (lambda v: _int(v) and v in (0, 1), "0 or 1"),
        "stats.cv_min_mean": (_real, "a number (g C m-2 a-1)"),
        "stats.hurst_method": (lambda v: v in HURST_METHODS, f"one of {', '.join(HURST_METHODS)}"),
        "stats.hurst_null_q": (open01, in01),
        "stats.hurst_null_sims": (at_least(100), "an integer >= 100"),
        "stats.n_breaks": (at_least(2), "an integer >= 2"),
        "stats.breaks_sample": (at_least(st.n_breaks if _int(st.n_breaks) else 2),
                                f"an integer >= stats.n_breaks = {st.n_breaks!r}"),
        "rh.a": (positive, "a positive number"),
        "rh.b": (_real, "a number (per degC)"),
        "rh.c": (positive, "a positive number (per mm)"),
        "rh.days": (positive, "a positive number of days"),
        "rh.carbon_fraction": (lambda v: _real(v) and 0 < v <= 1, "a number in (0, 1]"),
        "uncertainty.draws": (at_least(0), "an integer >= 0"),
        "uncertainty.rh_prior_pct": (lambda v: _real(v) and 0 <= v < 100, "a number in [0, 100) (%)"),
        "uncertainty.interp_error_scale": (lambda v: _real(v) and v >= 0, "a number >= 0"),
        "uncertainty.error_spacing_m": (positive, metres),
        "uncertainty.sample_spacing_m": (positive, metres),
        "checks.plausible_ranges": (lambda v: isinstance(v, bool), "true or false"),
        "checks.station_max_km": (positive, "a positive number of km"),
    }


_SECTIONS = {"inputs": Inputs, "stats": Stats, "rh": Rh, "uncertainty": Uncertainty, "checks": Checks}


def _build(cls, data: dict, where: str, file):
    known = {f.name: f for f in fields(cls)}
    kwargs = {}
    for key, value in data.items():
        if key not in known:
            raise NepConfigError(
                f"unknown key {key!r} in [{where}]; known keys: {', '.join(sorted(known))}",
                file=file, variable=key)
        if key in _SECTIONS and cls is Config:
            if not isinstance(value, dict):
                raise NepConfigError(f"[{key}] must be a table", file=file, variable=key)
            value = _build(_SECTIONS[key], value, key, file)
        elif isinstance(known[key].default, float) and _int(value):
            value = float(value)        # 5000 and 5000.0 are one resolution (types: Config.validate)
        kwargs[key] = value
    return cls(**kwargs)


def load_config(path: str | os.PathLike | None = None) -> Config:
    """Read a TOML (``.toml``) or YAML (``.yml``/``.yaml``) config; ``None`` gives the default.

    Unknown keys raise here; every value is then checked by :meth:`Config.validate`."""
    if path is None:
        return Config()
    path = Path(path)
    if not path.exists():
        raise NepConfigError("config file does not exist", file=path)
    if path.suffix not in (".toml", ".yml", ".yaml"):
        raise NepConfigError("config must end in .toml, .yml or .yaml", file=path)
    try:
        if path.suffix == ".toml":
            import tomllib

            data = tomllib.loads(path.read_text())
        else:
            import yaml

            data = yaml.safe_load(path.read_text()) or {}
    except Exception as exc:  # parser errors: re-raise with the file named
        raise NepConfigError(f"cannot parse: {exc}", file=path) from exc
    if not isinstance(data, dict):
        raise NepConfigError("top level must be a table/mapping", file=path)
    return _build(Config, data, "top", path)._from(path).validate()
