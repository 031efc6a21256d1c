"""Names shared by the scenario's modules: the note stamped on every file, the land-cover years,
the shipped real derivatives."""
from __future__ import annotations

from pathlib import Path

from nep_core.grid import data_path

SYNTHETIC_NOTE = ("SYNTHETIC data of the nep_core embedded scenario (seeded); not observations. "
                  "See nep_synthetic and truth.nc.")
LC_YEARS = list(range(2000, 2023))


def shipped(name: str) -> Path:
    """Path of a real derivative shipped in ``nep_core/data`` (see ``data/README.md``)."""
    return Path(str(data_path(name)))
