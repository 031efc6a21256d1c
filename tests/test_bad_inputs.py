"""The bad-input suite (issue 15): bad files, damaged caches and a hostile machine, on the default 5 km run.

Every case is one row of ``CASES``: what it breaks (in a private copy of a finished default run, or
through the command line), and the exact outcome it expects:

* ``error``: ``nep run`` exits with code 2 and one line ``nep: error: ...`` matching ``text`` (which
  names the file, key or directory), no traceback, and the previous results in the output directory
  (``results.nc``, ``tables/*.csv``) are byte for byte unchanged;
* ``recompute``: the run succeeds, prints the warning matching ``text`` (naming the stage and file)
  and recomputes exactly the stages of ``recomputed``; ``check`` then asserts the fresh values.

Rows that need mounting (read-only directory, small tmpfs) skip with the reason when the machine does
not allow it. The README's RELIABILITY section lists the rows (case -> outcome).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import xarray as xr

from nep_core import _numba_cache
from nep_core.cli import main
from nep_core.errors import NepWarning, write_error
from nep_core.pipeline import STAGE_DIR
from nep_core.pipeline.run import OUTPUTS_KEY, _lock


# ----------------------------------------------------------------------------------- shared fixture
@pytest.fixture(scope="module")
def template(default_results, tmp_path_factory) -> Path:
    """A finished default run (scenario, stage cache, results, tables, maps) copied once per module."""
    dst = tmp_path_factory.mktemp("bad-inputs") / "finished"
    shutil.copytree(default_results.config.out_dir, dst, symlinks=True)
    return dst


def _copy(template: Path, dst: Path) -> Path:
    shutil.copytree(template, dst, symlinks=True)
    return dst


def _snapshot(out: Path) -> dict:
    """BLAKE2b of the previous results a failed run must leave alone."""
    files = [out] if out.is_file() else [out / "results.nc", *sorted((out / "tables").glob("*.csv"))]
    return {str(p): hashlib.blake2b(p.read_bytes()).hexdigest() for p in files if p.exists()}


def _stage_file(out: Path, stage: str, rel: str) -> Path:
    (d,) = (out / STAGE_DIR).glob(f"{stage}-{'?' * 16}")
    return d / rel


def _flip(path: Path, at: int = -8):
    """Change one byte in place (same size); the mtime is put back, so only the content differs."""
    st = path.stat()
    b = bytearray(path.read_bytes())
    b[at] ^= 0xFF
    path.write_bytes(bytes(b))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


@contextlib.contextmanager
def _tmpfs(where: Path, size: str, ro: bool = False):
    """A tmpfs mounted at ``where`` (skip the case when mounting is not permitted here)."""
    where.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip() or r.returncode}); "
                    "needs root or CAP_SYS_ADMIN")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


# --------------------------------------------------------------------------------- the case table
@dataclass(frozen=True)
class Case:
    """One bad input or situation and its exact expected outcome."""

    name: str                                   # what is broken (the README table's first column)
    breaks: Callable                            # (out_dir copy, ExitStack) -> extra `nep run` args or None
    outcome: str                                # "error" or "recompute"
    text: str                                   # regex the error / warning line must match
    recomputed: tuple = ()                      # stages a "recompute" must recompute (and no others)
    check: Callable | None = None               # (out_dir, template) -> None: the fresh values
    out: Callable | None = None                 # (tmp_path, template, ExitStack) -> the out_dir to use
    slow: bool = False


def _same_bytes(stage: str, rel: str):
    """The recomputed file equals the one of the finished run (the writer is deterministic)."""
    def check(out, template):
        assert _stage_file(out, stage, rel).read_bytes() == _stage_file(template, stage, rel).read_bytes()
    return check


def _edit_stations(path: Path):
    """Same size, same mtime, different values: the last digit of the first station's first tmean."""
    lines = path.read_text().split("\n")
    h = next(i for i, x in enumerate(lines) if x.startswith("station,"))
    fields = lines[h + 1].split(",")
    fields[5] = fields[5][:-1] + str((int(fields[5][-1]) + 5) % 10)
    lines[h + 1] = ",".join(fields)
    st = path.stat()
    path.write_text("\n".join(lines))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns


def _values_differ(var: str):
    def check(out, template):
        with xr.open_dataset(out / "results.nc", engine="h5netcdf") as a, \
                xr.open_dataset(template / "results.nc", engine="h5netcdf") as b:
            assert not np.array_equal(a[var].values, b[var].values, equal_nan=True)
    return check


def _other_dir(out: Path, stack):
    """The scenario's files copied to another directory, stations edited there; the config names it."""
    other = out.parent / "other"
    shutil.copytree(out / "scenario", other)
    _edit_stations(other / "stations.csv")
    sc = out / "scenario"
    cfg = out.parent / "nep.toml"
    cfg.write_text("[inputs]\n" + "".join(
        f'{k} = "{v}"\n' for k, v in {"npp": other / "npp" / "*", "landcover": other / "landcover" / "*",
                                      "stations": other / "stations.csv", "dem": other / "dem.tif",
                                      "boundaries": other / "provinces.geojson"}.items()))
    assert sc.exists()
    return ["--config", str(cfg)]


def _interrupted_tables(out: Path, stack):
    (out / OUTPUTS_KEY).unlink()
    (out / "tables" / "trend_class_shares.csv").write_text("class,share\nfrom,a killed run\n")


def _tables_restored(out, template):
    for p in (template / "tables").glob("*.csv"):
        assert (out / "tables" / p.name).read_bytes() == p.read_bytes(), p.name
    assert (out / OUTPUTS_KEY).read_text() == (template / OUTPUTS_KEY).read_text()


def _leftovers(out: Path, stack):
    for p in (out / ".results.nc.k1l2.tmp", out / "tables" / ".nep_series.csv.x9.tmp",
              out / STAGE_DIR / ".stats-0123456789abcdef.old"):
        p.write_bytes(b"half")


def _no_leftovers(out, template):
    assert not [p for p in out.rglob(".*") if p.name.endswith((".tmp", ".old"))]


def _file_out(tmp_path, template, stack):
    f = tmp_path / "results-file"
    f.write_text("not a directory\n")
    return f


def _readonly_out(tmp_path, template, stack):
    mnt = stack.enter_context(_tmpfs(tmp_path / "ro", "400m"))
    _copy(template, mnt / "run")
    subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
    return mnt / "run"


def _full_out(tmp_path, template, stack):
    """The finished run on a tmpfs with 0.5 MB left; the grid stage (1.7 MB) must be rewritten."""
    size = sum(p.stat().st_size for p in template.rglob("*") if p.is_file())
    mnt = stack.enter_context(_tmpfs(tmp_path / "full", f"{(size >> 20) + 40}m"))
    out = _copy(template, mnt / "run")
    shutil.rmtree(_stage_file(out, "static", ""))
    free = shutil.disk_usage(mnt).free
    with open(mnt / "filler", "wb") as fh:
        fh.truncate(0)
        fh.write(b"\0" * (free - 512 * 1024))
    return out


OUT = ("results", "outputs")     # results.nc, tables/ and maps/ rewritten
ATTR = ("attribution", "uncertainty")   # both read the climate stage

CASES = [
    Case("stations.csv edited in place, same size and mtime",
         lambda o, s: _edit_stations(o / "scenario" / "stations.csv"),
         "recompute", r"^$", ("climate", "carbon", "stats", "classes", "rh_sensitivity", *ATTR, *OUT),
         _values_differ("tmean"), slow=True),
    Case("inputs under another directory with the same names (one value edited)", _other_dir,
         "recompute", r"^$",
         ("static", "climate", "carbon", "stats", "classes", "rh_sensitivity", *ATTR, *OUT),
         _values_differ("tmean"), slow=True),
    Case("interrupted table rewrite (.outputs.key gone, one table from a killed run)", _interrupted_tables,
         "recompute", r"^$", ("results", "outputs"), _tables_restored),
    Case("leftover .tmp / .old temporaries of a killed run", _leftovers, "recompute", r"^$", (),
         _no_leftovers, slow=True),
    Case("one byte of a Zarr chunk changed (classes stage)",
         lambda o, s: _flip(_stage_file(o, "classes", "data.zarr/trend_class/c/1/1")), "recompute",
         r"stage classes: data\.zarr/trend_class/c/1/1 is damaged \(checksum differs", ("classes",),
         _same_bytes("classes", "data.zarr/trend_class/c/1/1")),
    Case("Zarr chunk truncated (grid stage)",
         lambda o, s: os.truncate(_stage_file(o, "static", "data.zarr/elevation/c/0/1"), 100), "recompute",
         r"stage static: data\.zarr/elevation/c/0/1 is damaged \(100 bytes, \d+ written\)", ("static",),
         _same_bytes("static", "data.zarr/elevation/c/0/1")),
    Case("Zarr chunk deleted (NPP + NEP stage)",
         lambda o, s: _stage_file(o, "carbon", "data.zarr/nep/c/0/1/1").unlink(), "recompute",
         r"stage carbon: data\.zarr/nep/c/0/1/1 is damaged \(missing\)", ("carbon",),
         _same_bytes("carbon", "data.zarr/nep/c/0/1/1")),
    Case("Zarr metadata (zarr.json) edited (classes stage)",
         lambda o, s: _flip(_stage_file(o, "classes", "data.zarr/cv_class/zarr.json"), at=-3), "recompute",
         r"stage classes: data\.zarr/cv_class/zarr\.json is damaged \(checksum differs", ("classes",),
         _same_bytes("classes", "data.zarr/cv_class/zarr.json")),
    Case("hurst_null-*/hurst_null.csv side table edited (same size)",
         lambda o, s: _flip(_stage_file(o, "hurst_null", "hurst_null.csv"), at=-4), "recompute",
         r"stage hurst_null: hurst_null\.csv is damaged \(checksum differs", ("hurst_null",),
         _same_bytes("hurst_null", "hurst_null.csv")),
    Case("climate side file stations.nc truncated",
         lambda o, s: os.truncate(_stage_file(o, "climate", "stations.nc"), 4096), "recompute",
         r"stage climate: stations\.nc is damaged \(4096 bytes", ("climate",), None, slow=True),
    Case("manifest.json not JSON (Rh sensitivity stage)",
         lambda o, s: _stage_file(o, "rh_sensitivity", "manifest.json").write_text('{"stage": '),
         "recompute", r"stage rh_sensitivity: manifest\.json is damaged \(unreadable: JSONDecodeError",
         ("rh_sensitivity",),
         _same_bytes("rh_sensitivity", "rh_sensitivity.csv")),
    Case("manifest.json deleted (Hurst null stage)",
         lambda o, s: _stage_file(o, "hurst_null", "manifest.json").unlink(), "recompute",
         r"stage hurst_null: manifest\.json is damaged \(unreadable: FileNotFoundError", ("hurst_null",),
         _same_bytes("hurst_null", "hurst_null.csv"), slow=True),
    Case("out_dir is an existing file", lambda o, s: None, "error",
         r"^nep: error: out_dir \S+results-file is a file, not a directory", out=_file_out),
    Case("out_dir on a read-only file system", lambda o, s: None, "error",
         r"^nep: error: out_dir \S+/ro/run cannot be written \(Read-only file system\)", out=_readonly_out),
    Case("disk full while writing a stage (tmpfs with 0.5 MB left)", lambda o, s: None, "error",
         r"^nep: error: stage static: no space left on the device of \S+ \(0\.\d MB free; it writes up to "
         r"4\.8 MB \(uncompressed\)\); free some space or choose another out_dir$", out=_full_out),
]


def _stages_recomputed(stdout: str) -> set:
    line = next(x for x in stdout.splitlines() if x.startswith("cache hits:"))
    names = line.split("recomputed:")[1].strip()
    return set() if names == "-" else set(names.split(", "))


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name, marks=[pytest.mark.slow] if c.slow else [])
                                  for c in CASES])
def test_bad_input(case, template, tmp_path, capfd):
    with contextlib.ExitStack() as stack:
        out = case.out(tmp_path, template, stack) if case.out else _copy(template, tmp_path / "run")
        args = case.breaks(out, stack)
        args = args if isinstance(args, list) else []
        before = _snapshot(out)
        capfd.readouterr()
        with warnings.catch_warnings(record=True) as rec:    # as the CLI shows them (pytest records them)
            warnings.simplefilter("always", NepWarning)
            code = main(["run", "--out", str(out), "--no-progress", "--timings", *args])
        std = capfd.readouterr()
        assert "Traceback" not in std.err
        lines = [x for x in std.err.splitlines() if x.startswith("nep: ")]
        lines += [f"nep: warning: {w.message}" for w in rec if issubclass(w.category, NepWarning)]
        if case.outcome == "error":
            assert code == 2 and len(lines) == 1 and re.search(case.text, lines[0]), std.err
            assert _snapshot(out) == before            # the previous results are untouched
            return
        assert code == 0, std.err
        if case.text == r"^$":
            assert lines == [], std.err                # no warning: nothing was damaged
        else:
            assert len(lines) == 1 and re.search(case.text, lines[0]), std.err
        assert _stages_recomputed(std.out) - {"scenario"} == set(case.recomputed)
        if case.check:
            case.check(out, template)


# ---------------------------------------------------------------------------- cases outside `nep run`
def test_any_error_opening_a_cached_artefact_recomputes(template, tmp_path, monkeypatch):
    """An exception from the reader itself (not a checksum) also leads to a recompute, not a crash."""
    from nep_core import Config, pipeline
    from nep_core.pipeline import cache

    out = _copy(template, tmp_path / "run")
    real = cache.pd.read_csv
    calls = []

    def broken(path, *a, **k):
        if Path(path).name == "rh_sensitivity.csv" and not calls:
            calls.append(path)
            raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")
        return real(path, *a, **k)

    monkeypatch.setattr(cache.pd, "read_csv", broken)
    cfg = Config(out_dir=str(out))
    with pytest.warns(NepWarning, match=r"stage rh_sensitivity: rh_sensitivity-\w+ is damaged \(opening it "
                                        r"raised UnicodeDecodeError"):
        res = pipeline.run(cfg)
    assert res.cache_misses == ["rh_sensitivity"] and calls


def test_numba_cache_falls_back_when_home_is_not_writable(tmp_path, monkeypatch):
    """No writable cache next to the kernels nor under HOME: NUMBA_CACHE_DIR -> a temporary directory."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setattr(_numba_cache, "KERNELS", blocker / "kernels")
    env = {"HOME": str(blocker / "home")}
    pattern = (r"neither .* nor .* \(HOME=\S+/a-file/home\) is writable; numba caches the compiled kernels "
               r"in \S+nep-numba-cache-\d+ instead")
    with pytest.warns(NepWarning, match=pattern) as rec:
        d = _numba_cache.choose(env)
    assert len(rec) == 1 and env["NUMBA_CACHE_DIR"] == d and write_error(d) is None
    home_ok = {"HOME": str(tmp_path / "home")}           # the user-wide cache can be written: no change
    assert _numba_cache.choose(home_ok) is None and "NUMBA_CACHE_DIR" not in home_ok
    assert (tmp_path / "home" / ".cache" / "numba").is_dir()


def test_unwritable_numba_cache_dir_warns_once_and_imports(tmp_path):
    """NUMBA_CACHE_DIR naming a path that cannot be made: one warning, and the kernels still load."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(blocker / "numba"))
    r = subprocess.run([sys.executable, "-c", "import nep_core, os; print(os.environ['NUMBA_CACHE_DIR'])"],
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    warnings = [x for x in r.stderr.splitlines() if x.startswith("nep: warning:")]
    assert len(warnings) == 1 and f"NUMBA_CACHE_DIR={blocker / 'numba'} is not writable" in warnings[0]
    assert "nep-numba-cache-" in r.stdout and "Traceback" not in r.stderr


def test_unexpected_errors_keep_their_traceback(monkeypatch, tmp_path):
    """Only the mapped environment/input errors become one line; a bug still raises."""
    from nep_core import pipeline

    def bug(*a, **k):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(pipeline, "run", bug)
    with pytest.raises(ZeroDivisionError):
        main(["run", "--out", str(tmp_path / "o"), "--no-progress"])


def test_second_run_waits_on_the_lock_and_says_whose(tmp_path):
    """The lock file names its holder (pid, host, start); a second run waiting on it says so, once."""
    held, release = threading.Event(), threading.Event()

    def hold():
        with _lock(tmp_path):
            held.set()
            release.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    held.wait(10)
    holder = (tmp_path / ".lock").read_text()
    assert re.fullmatch(rf"pid {os.getpid()} on \S+, started 20\d\d-\d\d-\d\d \d\d:\d\d:\d\d \w+\n", holder)
    threading.Timer(0.5, release.set).start()
    with pytest.warns(NepWarning) as rec, _lock(tmp_path):
        pass
    t.join()
    assert [str(w.message) for w in rec] == [
        f"{tmp_path} is in use by another nep run ({holder.strip()}); waiting for it to finish"]
