"""The book's structure: chapters listed = chapters present, cross-references resolve, chapters hold
no analysis code and no warning filters; every chapter executes in a Jupyter kernel; the builder
calls Quarto when it has it and otherwise writes the plain fallback pages."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from nep_core import book, report

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = book.chapter_list(ROOT)
LABEL = re.compile(r"^#\|\s*label:\s*((?:fig|tbl)-[\w-]+)\s*$", re.M)       # a figure / table cell
ANCHOR = re.compile(r"\{#((?:fig|tbl|sec|eq)-[\w-]+)[^}]*\}")                  # {#sec-x}, {#eq-x}
XREF = re.compile(r"(?<![\w@])@((?:fig|tbl|sec|eq)-[\w-]*\w)")                  # @fig-x


def _code_cells(rel):
    nb = book.read_qmd(ROOT / rel)
    return [c.source for c in nb.cells if c.cell_type == "code"]


def test_listed_chapters_exist_and_every_chapter_is_listed():
    for rel in CHAPTERS:
        assert (ROOT / rel).is_file(), f"{rel} is listed in _quarto.yml but missing"
    on_disk = {f"chapters/{p.name}" for p in (ROOT / "chapters").glob("*.qmd")} | {"index.qmd"}
    assert on_disk == set(CHAPTERS), f"not listed: {on_disk - set(CHAPTERS)}"
    assert len(CHAPTERS) == len(set(CHAPTERS))


def test_quarto_yml_keeps_the_required_settings():
    import yaml

    cfg = yaml.safe_load((ROOT / "_quarto.yml").read_text())
    assert cfg["project"]["type"] == "book"
    assert cfg["project"]["execute-dir"] == "project"
    assert cfg["execute"]["freeze"] == "auto"
    assert cfg["execute"]["warning"] is True
    assert {"html", "pdf"} <= set(cfg["format"])


def test_every_cross_reference_resolves():
    """What Quarto resolves: each @fig-/@tbl-/@sec-/@eq- reference names a label of the book."""
    text = {rel: (ROOT / rel).read_text() for rel in CHAPTERS}
    labels = {lab for t in text.values() for lab in LABEL.findall(t) + ANCHOR.findall(t)}
    refs = [(rel, lab) for rel, t in text.items() for lab in XREF.findall(t)]
    assert refs, "the book should cross-reference its figures and tables"
    missing = sorted({(f, lab) for f, lab in refs if lab not in labels})
    assert not missing, f"unresolved cross-references: {missing}"


def test_labels_are_unique():
    seen = {}
    for rel in CHAPTERS:
        text = (ROOT / rel).read_text()
        for lab in re.findall(r"^#\|\s*label:\s*(\S+)", text, re.M) + re.findall(r"\{#([\w-]+)", text):
            if lab == "setup":
                continue
            assert lab not in seen, f"label {lab} defined in {seen.get(lab)} and {rel}"
            seen[lab] = rel


@pytest.mark.parametrize("rel", CHAPTERS)
def test_chapter_code_is_thin(rel):
    """No def/class/lambda (analysis belongs in nep_core), no warning filters, no reading of files
    written by another chapter."""
    for src in _code_cells(rel):
        assert not re.search(r"^\s*(def|class)\s", src, re.M), f"{rel}: definition in a chapter"
        assert "lambda" not in src, f"{rel}: lambda in a chapter"
        assert "filterwarnings" not in src and "simplefilter" not in src, f"{rel}: warning filter"
        assert not re.search(r"\b(open|read_csv|read_parquet|open_dataset|to_csv)\(", src), rel


@pytest.mark.parametrize("rel", CHAPTERS)
def test_figures_and_tables_have_captions(rel):
    for src in _code_cells(rel):
        opts = book.cell_options(src)
        label = str(opts.get("label", ""))
        if label.startswith("fig-"):
            assert opts.get("fig-cap") and opts.get("fig-alt"), f"{rel}:{label} lacks fig-cap/fig-alt"
        if label.startswith("tbl-"):
            assert opts.get("tbl-cap"), f"{rel}:{label} lacks tbl-cap"
        if re.search(r"figures\.fig\w*\(", src):
            assert label.startswith("fig-"), f"{rel}: a figure call without a fig- label"


def test_results_pages_show_the_data_notice():
    """Every page that loads results prints the synthetic/real-data callout first."""
    for rel in CHAPTERS:
        cells = _code_cells(rel)
        if any("pipeline.results" in c for c in cells):
            first = cells[0]
            assert "pipeline.results()" in first and "report.data_notice(res)" in first, rel
            assert book.cell_options(first).get("output") == "asis", rel


def test_qmd_reader_keeps_other_fences_as_text(tmp_path):
    p = tmp_path / "x.qmd"
    p.write_text("# T {#sec-t}\n\n```bash\nrm -rf /\n```\n\n```{python}\n#| label: fig-a\n"
                 "#| fig-cap: \"A: b\"\n#| echo: false\n1 + 1\n```\n\n```{python}\n#| include: false\n2\n```\n")
    nb = book.read_qmd(p)
    assert [c.cell_type for c in nb.cells] == ["markdown", "code", "code"]
    assert "rm -rf" in nb.cells[0].source
    assert book.cell_options(nb.cells[1].source) == {"label": "fig-a", "fig-cap": "A: b", "echo": False}
    assert [c.metadata["tags"] for c in nb.cells[1:]] == [["remove_input"], ["remove_cell"]]


def test_build_calls_quarto_render_when_it_has_quarto(tmp_path):
    """The main route: ``quarto render --output-dir OUT`` in the project root."""
    (tmp_path / "_quarto.yml").write_text("project:\n  type: book\n")
    fake = tmp_path / "quarto"
    fake.write_text('#!/bin/sh\necho "$PWD $@" > called.txt\n')
    fake.chmod(0o755)
    index = book.build("out", quarto=str(fake), root=tmp_path)
    assert (tmp_path / "called.txt").read_text().split() == [str(tmp_path), "render", "--output-dir",
                                                             str(tmp_path / "out")]
    assert index == tmp_path / "out" / "index.html"


def test_fallback_pages(tmp_path):
    """Without Quarto: one page per chapter executed with the project root as cwd, an index in
    _quarto.yml order, the fallback note on every page, cell options honoured, bash not run."""
    (tmp_path / "_quarto.yml").write_text(
        "project:\n  type: book\nbook:\n  chapters:\n    - index.qmd\n  appendices:\n    - ch/z.qmd\n")
    (tmp_path / "ch").mkdir()
    (tmp_path / "index.qmd").write_text(
        "# Preface {.unnumbered}\n\nSee @sec-z.\n\n```{python}\n#| echo: false\n#| output: asis\n"
        "print('**from asis**')\n```\n\n```bash\ntouch ran.txt\n```\n")
    (tmp_path / "ch" / "z.qmd").write_text(
        "# Zed {#sec-z}\n\n```{python}\n#| include: false\nimport os\n```\n\n```{python}\n"
        "print(os.getcwd())  # shown\n```\n")
    index = book.build("out", quarto=False, root=tmp_path, timeout=120)
    home, z = index.read_text(), (tmp_path / "out" / "z.html").read_text()
    assert re.findall(r'<li><a href="([\w.-]+)">(\w+)<', home) == [("index.html", "Preface"),
                                                                  ("z.html", "Zed")]
    assert "<strong>from asis</strong>" in home and "print(" not in home
    assert "Plain fallback page" in home and "Plain fallback page" in z
    assert "@sec-z" in home                                  # left as written: Quarto resolves it
    assert "import os" not in z and "# shown" in z and str(tmp_path) in z
    assert not (tmp_path / "ran.txt").exists()


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_executes(chapter, book_config):
    """Each chapter runs top to bottom in a fresh kernel without an error (on the default run)."""
    nb = book.execute_chapter(chapter, root=ROOT)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    errors = [o for o in outputs if o.get("output_type") == "error"]
    assert not errors
    # a reader must see whole tables: pandas marks an elided table with "<n> rows x <m> columns"
    html = [o.get("data", {}).get("text/html", "") for o in outputs]
    assert not any("rows × " in (h if isinstance(h, str) else "".join(h)) for h in html)


def test_config_table_names_defaults_instead_of_nan():
    from nep_core import Config

    class R:
        config = Config()

    t = report.config_table(R)
    assert t.loc["seed", "value"] == "20000101"
    assert t.loc["stats.correction", "value"].startswith("none")
    assert t.loc["inputs.npp", "value"] == "none (embedded synthetic scenario)"
    assert not t["value"].isin(["nan", "NaN", "None"]).any()
