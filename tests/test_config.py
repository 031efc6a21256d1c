"""One config validation (Config.validate): every key's type and range, errors naming file and key."""
from __future__ import annotations

import subprocess
import sys

import pytest

from nep_core import pipeline
from nep_core.config import Config, load_config
from nep_core.errors import NepConfigError


def _toml(tmp_path, key: str, value: str):
    section, _, name = key.rpartition(".")
    p = tmp_path / "my-run.toml"
    p.write_text((f"[{section}]\n" if section else "") + f"{name} = {value}\n")
    return p


@pytest.mark.parametrize("key, value, words", [
    ("resolution_m", "0", "positive number of metres"),
    ("resolution_m", "-500", "positive number of metres"),
    ("resolution_m", "nan", "positive number of metres"),
    ("resolution_m", '"500"', "positive number of metres"),
    ("first_year", "2000.5", "a year"),
    ("last_year", "1999", "not before first_year"),
    ("seed", "-1", "integer >= 0"),
    ("seed", "true", "integer >= 0"),
    ("chunk_xy", "8", "integer >= 16"),
    ("scheduler", "5", "dask.distributed address"),
    ("out_dir", '""', "directory name"),
    ("inputs.npp", "3", "path or glob"),
    ("inputs.station_layout", '"excel"', "'csv' or 'cma'"),
    ("inputs.drywet", '"zones.shp"', "not read yet"),
    ("stats.alpha", "0", "between 0 and 1"),
    ("stats.alpha", "1.5", "between 0 and 1"),
    ("stats.fdr_alpha", "1", "between 0 and 1"),
    ("stats.hurst_null_q", "0.0", "between 0 and 1"),
    ("stats.correction", '"hamed-rao"', "one of none, hamed_rao, yue_wang, tfpw"),
    ("stats.correction", "1", "one of none, hamed_rao, yue_wang, tfpw"),
    ("stats.hurst_method", '"dfa"', "one of prefix, diff, alp"),
    ("stats.n_breaks", "1", "integer >= 2"),
    ("stats.breaks_sample", "3", "integer >= stats.n_breaks"),
    ("stats.stable_eps", "-0.1", "number >= 0"),
    ("stats.hurst_null_sims", "99", "integer >= 100"),
    ("stats.cv_ddof", "2", "0 or 1"),
    ("stats.cv_min_mean", '"ten"', "a number"),
    ("stats.min_valid", "25", "fewer years"),
    ("rh.a", "0", "positive number"),
    ("rh.c", "-0.3", "positive number"),
    ("rh.carbon_fraction", "1.2", "(0, 1]"),
])
def test_each_bad_value_names_file_and_key(tmp_path, key, value, words):
    p = _toml(tmp_path, key, value)
    with pytest.raises(NepConfigError) as e:
        load_config(p)
    msg = str(e.value)
    assert "my-run.toml" in msg and f"variable '{key}'" in msg and words in msg, msg


def test_good_values_load(tmp_path):
    p = tmp_path / "ok.toml"
    p.write_text('resolution_m = 500\nchunk_xy = 16\n[stats]\ncorrection = "none"\nalpha = 0.1\n'
                 'hurst_null_sims = 100\n[rh]\ncarbon_fraction = 1\n')
    cfg = load_config(p)
    assert cfg.resolution_m == 500.0 and cfg.stats.correction is None and cfg.source == str(p)
    # "none" is no correction: the same config (and cache keys) as leaving it unset
    assert cfg.fingerprint() == Config(resolution_m=500.0, chunk_xy=16).replace(
        **{"stats.alpha": 0.1, "stats.hurst_null_sims": 100, "rh.carbon_fraction": 1.0}).fingerprint()
    assert cfg.replace(seed=1).source == str(p)          # a modified copy still names its file


def test_pipeline_validates_before_running(tmp_path):
    bad = Config(out_dir=str(tmp_path / "o")).replace(**{"stats.hurst_method": "dfa"})
    with pytest.raises(NepConfigError, match=r"variable 'stats.hurst_method'.*prefix, diff, alp"):
        pipeline.run(bad)
    assert not (tmp_path / "o").exists()                  # nothing written


def test_cli_refuses_zero_resolution(tmp_path):
    r = subprocess.run([sys.executable, "-m", "nep_core", "run", "--resolution", "0", "--out",
                        str(tmp_path / "o")], capture_output=True, text=True)
    assert r.returncode == 2 and "--resolution" in r.stderr and "positive number of metres" in r.stderr
    assert not (tmp_path / "o").exists()
    p = _toml(tmp_path, "stats.alpha", "2")
    r = subprocess.run([sys.executable, "-m", "nep_core", "run", "--config", str(p)],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "my-run.toml" in r.stderr and "stats.alpha" in r.stderr


def test_import_changes_no_environment():
    """Importing nep_core sets no environment variable and loads no OpenMP runtime, so the default
    OMP_WAIT_POLICY that pipeline.run sets (only if unset) still reaches OpenMP when it starts."""
    code = ("import os; os.environ.pop('OMP_WAIT_POLICY', None); before = dict(os.environ); "
            "import nep_core, nep_core.pipeline, nep_core.cli, nep_core.climate, nep_core.io; "
            "assert dict(os.environ) == before; "
            "assert 'libgomp' not in open('/proc/self/maps').read()")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
