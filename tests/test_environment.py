"""The two dependency lists (pyproject.toml for pip, environment.yml for conda) must not drift."""
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# conda-forge names that differ from PyPI names, and conda-only entries
CONDA_NAME = {"dask[array]": "dask"}
CONDA_ONLY = {"python", "quarto", "pip"}


def _split(req: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-\[\]]+)\s*(.*)$", req)
    assert m, req
    return m.group(1).lower(), m.group(2).replace(" ", "")


def _pyproject() -> dict[str, str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = data["project"]
    reqs = list(project["dependencies"])
    for extra in ("book", "test"):
        reqs += project["optional-dependencies"][extra]
    out = {}
    for r in reqs:
        name, spec = _split(r)
        out[CONDA_NAME.get(name, name)] = spec
    return out


def _conda() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    out = {}
    deps = []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):      # the pip section: PyPI names, installed by pip
            assert set(dep) == {"pip"}, f"unexpected entry in environment.yml: {dep!r}"
            deps += dep["pip"]
        else:
            deps.append(dep)
    for dep in deps:
        assert isinstance(dep, str), f"unexpected non-string entry in environment.yml: {dep!r}"
        name, spec = _split(dep)
        if name not in CONDA_ONLY:
            out[name] = spec
    return out


def test_same_packages_and_pins():
    pip, conda = _pyproject(), _conda()
    assert set(pip) == set(conda), (
        f"only in pyproject: {sorted(set(pip) - set(conda))}; only in environment.yml: {sorted(set(conda) - set(pip))}")
    differing = {k: (pip[k], conda[k]) for k in pip if pip[k] != conda[k]}
    assert not differing, f"version specs differ (pyproject, environment.yml): {differing}"


def test_environment_has_quarto_and_conda_forge():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    assert "quarto" in env["dependencies"]
