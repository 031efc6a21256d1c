"""Build the book: ``quarto render`` when Quarto is on PATH, else a plain Jupyter fallback.

The fallback is not a second Quarto: each ``.qmd`` of ``_quarto.yml`` is read by jupytext (R Markdown
reader), executed by nbclient in a fresh ``python3`` kernel whose working directory is the project
root (Quarto's ``execute-dir: project``) and exported by nbconvert to standalone HTML. Cell options
``include: false``, ``echo: false`` and ``output: asis`` are honoured; cross-references, numbering and
callouts stay in their Quarto source form, and every page says so.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import yaml

from .errors import NepInputError
from .store import write_text

NOTE = ("> **Plain fallback page** (built without Quarto: executed with nbclient, exported with "
        "nbconvert). Cross-references (`@fig-...`), numbering and callouts (`:::`) are shown in their "
        "source form; [Quarto](https://quarto.org/docs/get-started/) renders the full book "
        "(`quarto render`). [Contents](index.html)")
#: MathJax 2 of Debian's ``libjs-mathjax``: equations offline when installed, else nbconvert's CDN.
LOCAL_MATHJAX = Path("/usr/share/javascript/mathjax/MathJax.js")


def project_root(start: str | os.PathLike | None = None) -> Path:
    """The directory holding ``_quarto.yml``: searched upward from ``start`` (default: the current
    directory), then next to the installed package."""
    here = Path(start or os.getcwd()).resolve()
    for d in (here, *here.parents, Path(__file__).resolve().parents[1]):
        if (d / "_quarto.yml").exists():
            return d
    raise NepInputError("no _quarto.yml found in this directory, its parents or beside nep_core",
                        file=here)


def chapter_list(root: str | os.PathLike | None = None) -> list[str]:
    """The book's ``.qmd`` files in reading order (chapters, then appendices), relative to the root."""
    book = yaml.safe_load((project_root(root) / "_quarto.yml").read_text()).get("book", {})

    def flat(entries):   # "- part: ... chapters: [...]" entries hold their chapters
        for e in entries or []:
            yield from flat(e.get("chapters")) if isinstance(e, dict) else [e]
    return [*flat(book.get("chapters")), *flat(book.get("appendices"))]


def cell_options(source: str) -> dict:
    """Quarto cell options (the ``#| key: value`` YAML lines at the top of a code cell) as a dict."""
    head = re.match(r"(?:[ \t]*#\|.*(?:\n|$))*", source).group(0)
    return yaml.safe_load(re.sub(r"^[ \t]*#\|[ \t]?", "", head, flags=re.M)) or {}


def read_qmd(path: str | os.PathLike):
    """A ``.qmd`` file as a notebook, tagged ``remove_cell`` (``include: false``) or ``remove_input``
    (``echo: false``)."""
    import jupytext

    nb = jupytext.reads(Path(path).read_text(), fmt="Rmd")
    for cell in nb.cells:
        if cell.cell_type == "code":
            opts = cell_options(cell.source)
            cell.metadata["tags"] = (["remove_cell"] if opts.get("include") is False
                                     else ["remove_input"] if opts.get("echo") is False else [])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def execute_chapter(path: str | os.PathLike, timeout: int = 1800, root=None):
    """The executed notebook of one chapter (fresh ``python3`` kernel, cwd = project root); a failing
    cell raises ``nbclient.exceptions.CellExecutionError``."""
    from nbclient import NotebookClient

    root = project_root(root)
    nb = read_qmd(root / path)
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(root)}}).execute()
    return nb


def _title(nb, rel: str) -> str:
    """The first level-1 heading, without its ``{...}`` attributes (else the file name)."""
    heads = (re.search(r"^#\s+(.*?)\s*(\{[^}]*\})?\s*$", c.source, re.M) for c in nb.cells
             if c.cell_type == "markdown")
    return next((m.group(1) for m in heads if m), Path(rel).stem)


def _export(nb, path: Path, title: str):
    """Standalone HTML (images inline) of ``nb``; ``output: asis`` cells' stdout as Markdown."""
    import nbformat
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and cell_options(cell.source).get("output") == "asis":
            text = "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stdout")
            nb.cells[i] = nbformat.v4.new_markdown_cell(text)
    c = Config()
    c.TagRemovePreprocessor.update(enabled=True, remove_cell_tags={"remove_cell"},
                                   remove_input_tags={"remove_input"})
    if LOCAL_MATHJAX.exists():
        c.HTMLExporter.mathjax_url = LOCAL_MATHJAX.as_uri() + "?config=TeX-AMS_CHTML-full,Safe"
    nb.metadata["title"] = title
    body, _ = HTMLExporter(config=c, template_name="lab", exclude_input_prompt=True,
                           exclude_output_prompt=True).from_notebook_node(nb)
    write_text(body, path)


def build(out_dir: str | os.PathLike = "_book", quarto: str | bool | None = None, root=None,
          timeout: int = 1800) -> Path:
    """Build the book into ``out_dir`` (relative to the project root) and return its ``index.html``.

    ``quarto``: path of the ``quarto`` executable; ``None`` looks it up on PATH, ``False`` forces the
    fallback, which allows ``timeout`` seconds per cell."""
    import nbformat

    root = project_root(root)
    out = (root / out_dir).resolve()
    exe = shutil.which("quarto") if quarto is None else (quarto or None)
    if exe:
        subprocess.run([exe, "render", "--output-dir", str(out)], cwd=root, check=True)
        return out / "index.html"
    chapters = chapter_list(root)
    page = {rel: Path(rel).stem + ".html" for rel in chapters}
    contents = "## Contents\n\n" + "\n".join(
        f"{i}. [{_title(read_qmd(root / rel), rel)}]({page[rel]})" for i, rel in enumerate(chapters, 1))
    out.mkdir(parents=True, exist_ok=True)
    for rel in chapters:   # Quarto requires index.qmd, the first page: it carries the contents
        t0 = time.perf_counter()
        nb = execute_chapter(rel, timeout=timeout, root=root)
        nb.cells[:0] = [nbformat.v4.new_markdown_cell(NOTE)] + (
            [nbformat.v4.new_markdown_cell(contents)] if page[rel] == "index.html" else [])
        _export(nb, out / page[rel], _title(nb, rel))
        print(f"book: {rel} -> {out / page[rel]} ({time.perf_counter() - t0:.1f} s)", flush=True)
    return out / "index.html"
