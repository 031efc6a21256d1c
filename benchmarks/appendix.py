"""The book's benchmark appendix (``chapters/d-benchmarks.qmd``): read ``data/benchmarks/`` (written
by :mod:`benchmarks.report`) and turn it into tables and one figure. Imported by the chapter, which
runs with the project root as working directory (Quarto's ``execute-dir: project``)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from nep_core.errors import NepInputError

#: Where :mod:`benchmarks.report` writes by default: ``data/benchmarks`` of this repository.
BENCH_DIR = Path(__file__).resolve().parents[1] / "data" / "benchmarks"


def load(bench_dir=BENCH_DIR) -> dict:
    """The measured figures: {"statistics": DataFrame, "stages": DataFrame or None, "machine": dict}.

    Measurements of one machine on one day (``machine["date"]``), kept in the repository because the
    500 m run takes about half an hour; ``python -m benchmarks.report`` regenerates them."""
    d = Path(bench_dir)
    stats_path, machine_path, stages_path = d / "statistics.csv", d / "machine.json", d / "stages.csv"
    for p in (stats_path, machine_path):
        if not p.exists():
            raise NepInputError("missing; regenerate it with `python -m benchmarks.report`", file=p)
    return {"statistics": pd.read_csv(stats_path),
            "stages": pd.read_csv(stages_path) if stages_path.exists() else None,
            "machine": json.loads(machine_path.read_text())}


def statistics_table(report: dict) -> pd.DataFrame:
    """Pixels per second of each statistic and of its per-pixel loop peer, and the speed-up."""
    s = report["statistics"]
    out = pd.DataFrame({
        "statistic (nep_core)": s["statistic"],
        "nep_core (px/s)": s["px_per_s"].map("{:,.0f}".format),
        "per-pixel peer": s["peer"].fillna(""),
        "peer computes": s["peer_computes"].fillna(""),
        "peer (px/s)": s["peer_px_per_s"].map(lambda v: "" if pd.isna(v) else f"{v:,.1f}"),
        "peer pixels timed": s["peer_pixels"].map(lambda v: "" if not v else f"{int(v):,}"),
        "speed-up (x)": s["speedup"].map(lambda v: "" if pd.isna(v) else f"{v:,.0f}"),
    })
    return out.set_index("statistic (nep_core)")


def _grid_label(res_m: float) -> str:
    return f"{res_m / 1000:g} km" if res_m >= 1000 else f"{res_m:g} m"


def stages_table(report: dict) -> pd.DataFrame:
    """Wall time (s) and peak resident memory (GB) of each pipeline stage, one column pair per grid."""
    st = report.get("stages")
    if st is None or st.empty:
        raise NepInputError("the benchmark report has no pipeline runs "
                            "(python -m benchmarks.report --run DIR)")
    parts = []
    for (res_m, npix), g in st.groupby(["resolution_m", "region_pixels"], sort=False, dropna=False):
        label = _grid_label(res_m)
        g = g.set_index("stage")
        cols = {f"{label}, {int(npix):,} px: wall time (s)": g["seconds"].round(1),
                f"{label}: peak RSS (GB)": g["peak_rss_gb"].round(2)}
        if "measured_at" in g:   # a stage reused from the cache keeps the run that computed it
            at = g["measured_at"].fillna("").astype(str).str[:16]
            cols[f"{label}: computed at"] = at.str.replace("T", " ")
        parts.append(pd.DataFrame(cols))
    out = pd.concat(parts, axis=1)
    order = [s for s in st["stage"].drop_duplicates() if s != "total"] + ["total"]
    return out.loc[order].fillna("")


def limits_table(report: dict) -> pd.DataFrame:
    """Where the time goes: the measured rate against memory bandwidth and against the clock.

    ``bytes/px`` is what a statistic reads (24 float32 years per variable) and writes (its float64
    and integer outputs); at the measured rate that is the implied traffic, to compare with the
    measured copy bandwidth. ``cycles/px`` is what the machine's cores spend per pixel
    (cores x clock / rate) and ``cycles/op`` divides it by the counted elementary operations."""
    s = report["statistics"].drop_duplicates("statistic")
    m = report["machine"]
    bw = float(m.get("memory_copy_GB_per_s") or np.nan)
    hz = float(m.get("cpu_mhz") or np.nan) * 1e6 * float(m.get("cpus") or np.nan)
    cycles = hz / s["px_per_s"]
    return pd.DataFrame({
        "statistic": s["statistic"],
        "px/s": s["px_per_s"].map("{:,.0f}".format),
        "bytes/px": s["bytes_per_px"],
        "implied traffic (GB/s)": s["implied_GB_per_s"].round(3),
        "share of copy bandwidth (%)": (100 * s["implied_GB_per_s"] / bw).round(2),
        "operations/px (counted)": s["ops_per_px"],
        "cycles/px (all cores)": cycles.round(0),
        "cycles/operation": (cycles / s["ops_per_px"]).round(1),
    }).set_index("statistic")


def machine_table(report: dict) -> pd.DataFrame:
    """The machine, versions, sizes and command of the benchmark run, one row per item."""
    units = {"cpus": "", "cpu_mhz": " MHz", "ram_gb": " GB", "memory_copy_GB_per_s": " GB/s (read + write)",
             "pixels": " px", "chunk": " px per dask chunk", "peer_sample": " px", "input_generation_s": " s"}
    rows = {k: f"{v:,}{units[k]}" if k in units and isinstance(v, (int, float)) else str(v)
            for k, v in report["machine"].items()}
    return pd.DataFrame({"value": pd.Series(rows)}).rename_axis("item")


def figure(report: dict):
    """(a) Pixels per second of each statistic of nep_core and of its per-pixel loop peers (log
    scale); (b) wall time per pipeline stage at each grid resolution (log scale)."""
    import matplotlib.pyplot as plt

    from nep_core.figures import OKABE_ITO

    s = report.get("statistics")
    if s is None or s.empty:
        raise NepInputError("benchmark report without statistics", variable="statistics")
    st = report.get("stages")
    ncol = 2 if st is not None and not st.empty else 1
    fig, axes = plt.subplots(1, ncol, figsize=(6.2 * ncol, 4.8), layout="constrained", squeeze=False)
    ax = axes[0, 0]
    paired = s[s["peer"].fillna("") != ""]
    labels = [f"{a}\nvs {b}" for a, b in zip(paired["statistic"], paired["peer"])]
    ours, peers = paired["px_per_s"].to_numpy(float), paired["peer_px_per_s"].to_numpy(float)
    y = np.arange(len(labels))
    ax.barh(y - 0.2, ours, 0.4, color=OKABE_ITO[4], label="nep_core (numba kernels, all cores)")
    ax.barh(y + 0.2, peers, 0.4, color=OKABE_ITO[0], label="per-pixel loop peer")
    for yi, o, p in zip(y, ours, peers):
        ax.text(o * 1.15, yi - 0.2, f"{o / p:,.0f}x", va="center", fontsize=7)
    ax.set_yticks(y, labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("pixels per second (24-year series), log scale")
    ax.set_xlim(right=max(ours) * 12)
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(0, -0.16))
    ax.set_title("(a) statistics: nep_core vs per-pixel loops", fontsize=9, loc="left")
    ax.grid(axis="x", alpha=0.3)
    if ncol == 2:
        ax = axes[0, 1]
        body = st[st["stage"] != "total"]
        stages = list(dict.fromkeys(body["stage"]))
        runs = list(body.groupby(["resolution_m", "region_pixels"], sort=False).groups)
        yy = np.arange(len(stages))
        h = 0.8 / max(len(runs), 1)
        for i, (res_m, npix) in enumerate(runs):
            g = body[(body["resolution_m"] == res_m) & (body["region_pixels"] == npix)].set_index("stage")
            vals = [max(float(g["seconds"].get(k, np.nan)), 0.01) for k in stages]
            ax.barh(yy + (i - (len(runs) - 1) / 2) * h, vals, h, color=OKABE_ITO[(i * 3 + 1) % 9],
                    label=f"{_grid_label(res_m)} ({int(npix):,} px), "
                          f"total {g['seconds'].sum() / 60:.1f} min")
        ax.set_yticks(yy, stages, fontsize=7)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.set_xlabel("wall time per stage (s), log scale")
        ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(0, -0.16))
        ax.set_title("(b) pipeline stages", fontsize=9, loc="left")
        ax.grid(axis="x", alpha=0.3)
    return fig
