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
"""
from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from .errors import NepConfigError


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
    correction: str | None = None     # None, "hamed_rao", "yue_wang", "tfpw"
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

    def __post_init__(self):
        # 5000 and 5000.0 are the same resolution: normalise so fingerprints and cache keys agree
        if isinstance(self.resolution_m, int) and not isinstance(self.resolution_m, bool):
            object.__setattr__(self, "resolution_m", float(self.resolution_m))

    @property
    def years(self) -> list[int]:
        return list(range(self.first_year, self.last_year + 1))

    def replace(self, **changes) -> "Config":
        """A copy with top-level fields or dotted section fields (``"stats.alpha"``) changed."""
        flat = {k: v for k, v in changes.items() if "." not in k}
        cfg = dataclasses.replace(self, **flat)
        for key, value in changes.items():
            if "." in key:
                section, name = key.split(".", 1)
                sub = getattr(cfg, section)
                cfg = dataclasses.replace(cfg, **{section: dataclasses.replace(sub, **{name: value})})
        return cfg

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def fingerprint(self, *sections: str) -> str:
        """A stable hash of the named parts of the config (all when none named), for caching."""
        import hashlib

        d = self.to_dict()
        if sections:
            d = {k: d[k] for k in sections}
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


_SECTIONS = {"inputs": Inputs, "stats": Stats, "rh": Rh}


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
        else:
            default = known[key].default
            if isinstance(default, bool) or default is None or isinstance(value, type(default)):
                pass
            elif isinstance(default, float) and isinstance(value, int):
                value = float(value)
            else:
                raise NepConfigError(
                    f"expected {type(default).__name__}, got {type(value).__name__} ({value!r})",
                    file=file, variable=f"{where}.{key}" if where != "top" else key)
        kwargs[key] = value
    return cls(**kwargs)


def load_config(path: str | os.PathLike | None = None) -> Config:
    """Read a TOML (``.toml``) or YAML (``.yml``/``.yaml``) config; ``None`` gives the default."""
    if path is None:
        return Config()
    path = Path(path)
    if not path.exists():
        raise NepConfigError("config file does not exist", file=path)
    text = path.read_text()
    try:
        if path.suffix == ".toml":
            import tomllib

            data = tomllib.loads(text)
        elif path.suffix in (".yml", ".yaml"):
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            raise NepConfigError("config must end in .toml, .yml or .yaml", file=path)
    except NepConfigError:
        raise
    except Exception as exc:  # parser errors: re-raise with the file named
        raise NepConfigError(f"cannot parse: {exc}", file=path) from exc
    if not isinstance(data, dict):
        raise NepConfigError("top level must be a table/mapping", file=path)
    cfg = _build(Config, data, "top", path)
    if cfg.stats.correction not in (None, "hamed_rao", "yue_wang", "tfpw"):
        raise NepConfigError("must be one of none, hamed_rao, yue_wang, tfpw", file=path,
                             variable="stats.correction")
    if cfg.stats.hurst_method not in ("prefix", "diff", "alp"):
        raise NepConfigError("must be one of prefix, diff, alp", file=path, variable="stats.hurst_method")
    mv = cfg.stats.min_valid
    if mv is not None and (isinstance(mv, bool) or not isinstance(mv, int)):
        raise NepConfigError(f"must be a whole number of years (omit it for ceil(0.8 * n_years)), "
                             f"got {mv!r}", file=path, variable="stats.min_valid")
    if not (0 < cfg.stats.alpha < 1):
        raise NepConfigError("must be in (0, 1)", file=path, variable="stats.alpha")
    if cfg.resolution_m <= 0:
        raise NepConfigError("must be positive", file=path, variable="resolution_m")
    return cfg
