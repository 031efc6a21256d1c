"""The benchmark scripts (``benchmarks.bench_stats``, ``benchmarks.report``) and the appendix readers.

Benchmarks print figures; these tests check that they run, that the peers compute what they are
compared with, and that the written report is complete and consistent, not how fast anything is."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks import appendix, bench_stats, report
from nep_core import figures
from nep_core.errors import NepInputError


def test_bench_stats_small_cube(capsys):
    res = bench_stats.bench_stats(npix=3000, chunk=1000, mk_sample=40)
    out = capsys.readouterr().out
    assert "sen_mk / pymannkendall speed-up" in out and "full stack" in out
    for key in ("sen_mk (slope, CI, S, Var, Z, p)", "cv", "hurst_rs prefix", "partial_corr (3 drivers)",
                "full stack (one dask graph)"):
        assert res[key] > 0
    sen_rate = 3000 / res["sen_mk (slope, CI, S, Var, Z, p)"]
    assert res["sen_speedup"] == pytest.approx(sen_rate / res["mk_rate"])


@pytest.mark.parametrize("main", [bench_stats.main, report.main])
def test_bench_cli_rejects_nonpositive_sizes(main):
    with pytest.raises(SystemExit):
        main(["--pixels", "0"])


def test_run_stages_needs_a_finished_run(tmp_path):
    with pytest.raises(NepInputError, match="timings.json"):
        report.run_stages(tmp_path)


def test_report_written_complete_and_read_by_the_appendix(tmp_path, default_results):
    out = tmp_path / "benchmarks"
    run_dir = Path(default_results.path).parent
    report.bench_report(out, npix=3000, chunk=1000, peer_sample=20, runs=[run_dir])
    s = pd.read_csv(out / "statistics.csv")
    peers = [p for plist in report.PEERS.values() for p, _ in plist]
    assert s["peer"].dropna().tolist() == peers
    assert s["statistic"].iloc[-1].startswith("full stack")
    both = s.dropna(subset=["speedup"])
    np.testing.assert_allclose(both["speedup"], both["px_per_s"] / both["peer_px_per_s"], rtol=0.01)
    assert (s["px_per_s"] > 0).all() and (both["peer_px_per_s"] > 0).all()
    st = pd.read_csv(out / "stages.csv")
    saved = json.loads((run_dir / "timings.json").read_text())
    body = st[st["stage"] != "total"]
    assert body["stage"].tolist() == list(saved)
    assert st.loc[st["stage"] == "total", "seconds"].item() == pytest.approx(body["seconds"].sum(), abs=0.01)
    assert (st["resolution_m"] == 5000).all()
    assert (st["region_pixels"] == int((default_results.ds["province"] > 0).sum())).all()
    m = json.loads((out / "machine.json").read_text())
    assert m["pixels"] == 3000 and m["memory_copy_GB_per_s"] > 0 and "--run" in m["command"]

    bench = appendix.load(out)
    t = appendix.statistics_table(bench)
    assert len(t) == len(s)
    stages = appendix.stages_table(bench)
    assert stages.index[-1] == "total" and stages.shape[1] == 3
    computed_at = stages.iloc[:-1, 2]
    assert computed_at.str.match(r"\d{4}-\d\d-\d\d \d\d:\d\d$").all(), computed_at
    lim = appendix.limits_table(bench)
    assert (lim["share of copy bandwidth (%)"] > 0).all()
    assert "memory_copy_GB_per_s" in appendix.machine_table(bench).index
    fig = appendix.figure(bench)
    assert len(figures.panel_axes(fig)) == 2


def test_report_missing_names_the_file(tmp_path):
    with pytest.raises(NepInputError, match="statistics.csv.*benchmarks.report"):
        appendix.load(tmp_path)


def test_committed_report_is_complete():
    """The figures the appendix shows are in the repository (5 km and 500 m runs, every peer)."""
    bench = appendix.load()
    s = bench["statistics"]
    assert set(s["peer"].dropna()) == {p for plist in report.PEERS.values() for p, _ in plist}
    res = set(bench["stages"]["resolution_m"])
    assert {5000.0, 500.0} <= res, f"benchmark runs at {sorted(res)}; expected 5 km and 500 m"
    assert bench["machine"]["pixels"] >= 1_000_000
