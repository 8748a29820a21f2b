"""The documentation site's own extension (docs/_ext/twinlab_docs.py). The site itself is checked by `make docs`,
which `make test` runs with warnings as errors; these tests pin what the extension does to a notebook and a docstring."""
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs" / "_ext"))
import twinlab_docs  # noqa: E402


def _notebook(path: Path, *sources: str) -> str:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Title")]
                                  + [nbformat.v4.new_code_cell(s) for s in sources])
    nbformat.write(nb, path)
    return path.read_text()


def test_nbdev_directives_become_myst_nb_tags(tmp_path):
    path = tmp_path / "x.ipynb"
    text = _notebook(path, "#| default_exp x", "#| hide\nimport os", "#| export\nx = 1", "#| slow\nx = 2",
                     "#| eval: false\nraise SystemExit", "#| hide\n#| slow\nimport this", "#| echo: false\nx")
    app = SimpleNamespace(env=SimpleNamespace(doc2path=lambda docname: path))
    content = [text]
    twinlab_docs.nbdev_cells(app, "notebooks/x", content)
    cells = json.loads(content[0])["cells"][1:]
    got = [(c["source"], c["metadata"]["tags"]) for c in cells]
    assert got == [
        ("", ["remove-cell"]),                                  # only a directive: nothing to show
        ("import os", ["remove-cell"]),                         # hidden, but run (later cells may need it)
        ("x = 1", []),                                          # directive lines are not shown
        ("# Not run in the docs build (nbdev-test leaves it out too: #| slow).\nx = 2", ["skip-execution"]),
        ("# Not run in the docs build (nbdev-test leaves it out too: #| eval: false).\nraise SystemExit", ["skip-execution"]),
        ("import this", ["remove-cell", "skip-execution"]),     # hidden and slow: neither shown nor run
        ("x", ["remove-input"]),
    ]


def test_other_documents_are_left_as_they_are(tmp_path):
    text = _notebook(tmp_path / "t.ipynb", "#| hide\nimport os")
    content = [text]
    twinlab_docs.nbdev_cells(SimpleNamespace(), "tutorial", content)
    assert content == [text]


def _add(a: int, # the first number
         b: int = 2, # the second
        ) -> int: # their sum
    "Add two numbers"
    return a + b


def test_docments_become_parameter_fields():
    lines = ["Add two numbers"]
    twinlab_docs.docments(None, "function", "_add", _add, {}, lines)
    assert lines == ["Add two numbers", "", ":param a: the first number", ":param b: the second", ":returns: their sum"]
    plain = ["A module"]
    twinlab_docs.docments(None, "module", "m", sys, {}, plain)
    assert plain == ["A module"]
