"""What the twinlab site needs beyond Sphinx, myst-nb and sphinx-argparse; each part says which nbdev behaviour it keeps.

* `nbdev_cells` (on `source-read`): a notebook of `nbs/` is rendered as `nbdev-docs` would show it and executed as
  `nbdev-test` runs it. nbdev's own parser reads the `#|` directives and removes their lines; `#| hide` cells run
  but are not shown (myst-nb's `remove-cell` tag); `#| echo: false` and `#| output: false` hide the input or the
  output; the cells `nbdev-test` leaves out (`#| eval: false`, the `tst_flags` of pyproject's [tool.nbdev] such as
  `#| slow`) are shown, not run (nbclient's `skip-execution` tag), with a comment saying so.
* `docments` (on `autodoc-process-docstring`): a `:param:` field for each argument documented by a comment in the
  signature, read with `fastcore.docments.docments`, the reader nbdev's `show_doc` uses.
* the `twinlab-table` directive: the columns of a `twinlab.tables.TableSchema` (kind, required, may be empty,
  unique, allowed values) as a table, generated from the schema that `load_clinic` checks data against.
"""
from __future__ import annotations

import importlib
import json

from docutils import nodes
from fastcore.docments import docments as read_docments
from nbdev.config import get_config
from nbdev.process import NBProcessor
from nbdev.test import nb_test_cells
from sphinx.util.docutils import SphinxDirective

NOTEBOOKS = "notebooks/"   # where nbs/ appears in the site (docs/notebooks links to ../nbs)
NOT_RUN = "# Not run in the docs build (nbdev-test leaves it out too: {why})."


def _tags(directives: dict, source: str) -> list[str]:
    "myst-nb tags for a cell with these nbdev directives and this source (directive lines removed)"
    tags = []
    if "hide" in directives or not source.strip(): tags.append("remove-cell")
    if directives.get("echo", "").strip() == "false": tags.append("remove-input")
    if directives.get("output", "").strip() == "false": tags.append("remove-output")
    return tags


def nbdev_cells(app, docname: str, content: list[str]):
    "Rewrite a notebook of nbs/ as nbdev shows and tests it (see the module's docstring)"
    if not docname.startswith(NOTEBOOKS): return
    path = app.env.doc2path(docname)
    nb = json.loads(content[0])
    shown = NBProcessor(path).nb.cells    # directive lines removed; each cell's directives in `directives_`
    flags = str(get_config().tst_flags or "").split()
    run = {c.idx_ for c in nb_test_cells(path, skip_flags=flags)}
    for i, (cell, nbdev_cell) in enumerate(zip(nb["cells"], shown)):
        if cell["cell_type"] != "code": continue
        directives, source = nbdev_cell.directives_, nbdev_cell.source
        tags = _tags(directives, source)
        if i not in run:
            tags.append("skip-execution")
            why = ", ".join(f"#| {k}: {v}".rstrip(": ") for k, v in directives.items() if k == "eval" or k in flags)
            if "remove-cell" not in tags: source = NOT_RUN.format(why=why) + "\n" + source
        cell["source"] = source
        cell.setdefault("metadata", {})["tags"] = cell["metadata"].get("tags", []) + tags
    content[0] = json.dumps(nb)


def docments(app, what: str, name: str, obj, options, lines: list[str]):
    "Append a `:param:` field for each argument whose meaning is a comment in the signature"
    if what not in ("function", "method", "class") or not callable(obj): return
    try: params = read_docments(obj)
    except (TypeError, ValueError, OSError): return   # no Python source to read (a builtin, a C extension)
    fields = [f":param {p}: {doc}" for p, doc in params.items() if p != "return" and doc]
    if params.get("return"): fields.append(f":returns: {params['return']}")
    if fields: lines.extend(["", *fields])


class TableDirective(SphinxDirective):
    """The columns of a TableSchema: `.. twinlab-table:: twinlab.clinic.ROSTER`"""
    required_arguments = 1

    def run(self):
        module, _, attr = self.arguments[0].rpartition(".")
        table = getattr(importlib.import_module(module), attr)
        from twinlab.tables import KIND_WORDS
        head = ["column", "kind", "required", "may be empty", "unique", "values"]
        rows = []
        for col, c in table.schema.columns.items():
            checks = "; ".join(ch.error for ch in c.checks if ch.error)
            rows.append([col, KIND_WORDS[table.kinds[col]], "yes" if c.required else "no", "yes" if c.nullable else "no",
                         "yes" if c.unique else "no", checks])
        if table.schema.unique:
            rows.append(["(" + ", ".join(table.schema.unique) + ")", "", "", "", "yes, together", ""])
        return [_table(head, rows)]


def _table(head: list[str], rows: list[list[str]]) -> nodes.table:
    "A docutils table with a header row; the first column's cells as code"
    group = nodes.tgroup(cols=len(head))
    group += [nodes.colspec(colwidth=1) for _ in head]
    def row(cells, code_first):
        r = nodes.row()
        for j, text in enumerate(cells):
            para = nodes.paragraph()
            para += nodes.literal(text=text) if (j == 0 and code_first and text) else nodes.Text(text)
            r += nodes.entry("", para)
        return r
    group += nodes.thead("", row(head, False))
    group += nodes.tbody("", *[row(r, True) for r in rows])
    return nodes.table("", group, classes=["twinlab-table"])


def setup(app):
    app.connect("source-read", nbdev_cells)
    app.connect("autodoc-process-docstring", docments)
    app.add_directive("twinlab-table", TableDirective)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
