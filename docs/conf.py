"""Sphinx configuration of the twinlab documentation site: `make docs` builds it into docs/_build/html.

nbdev's own site builder (`nbdev-docs`) needs Quarto, which is not available here, so the site is built with Sphinx
and myst-nb, offline, from the same sources:

* The literate notebooks of `nbs/` appear under `notebooks/`, a symbolic link to `../nbs` (Sphinx follows links),
  so a notebook runs with `nbs/` as its working directory, as under `nbdev-test`. myst-nb executes them during the
  build (the stored notebooks have no outputs). `twinlab_docs` reads nbdev's cell directives (`#| hide`, `#| slow`,
  `#| eval: false`, ...) the way `nbdev-docs` and `nbdev-test` do; see docs/_ext/twinlab_docs.py. The tutorial
  (a notebook) and the how-tos (MyST notebooks) are executed too, so every output on the site is the code's.
* The API reference (api.md) is Sphinx autodoc over the `twinlab` package. twinlab documents parameters the nbdev way,
  as "docments": a comment after each argument in the signature, and a one-line docstring. Autodoc reads only the
  docstring (and sphinx-autodoc-typehints reads only annotations), so `twinlab_docs` adds a `:param:` field for each
  documented argument, read with `fastcore.docments.docments`, the function nbdev's `show_doc` itself uses. That
  keeps one source for the parameter text (the signature) and one reference page, instead of `show_doc` cells
  scattered through the notebooks (which nbdev-docs would insert and which the notebooks do not call).
* The CLI reference is generated at build time from `twinlab.cli.build_parser` by sphinx-argparse, so it cannot drift
  from `twinlab --help`. The data-format reference is generated from the table schemas twinlab checks data against.

Warnings are errors (`make docs` runs sphinx-build with `-W --keep-going`), and a notebook that raises fails the build.
"""
import hashlib
import sys
from pathlib import Path

from jupyter_cache import get_cache

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

import twinlab

project = "twinlab"
author = "twinlab developers"
copyright = "2026, twinlab developers"
version = release = twinlab.__version__

extensions = [
    "myst_nb",                  # MyST Markdown pages and executed notebooks
    "sphinx.ext.autodoc",       # the API reference
    "sphinxarg.ext",            # the CLI reference, from the argparse parser
    "twinlab_docs",             # nbdev directives, docments, the data-format tables (docs/_ext/twinlab_docs.py)
]

root_doc = "index"
exclude_patterns = ["_build", "_ext", "**/.ipynb_checkpoints", "Thumbs.db", ".DS_Store"]
html_theme = "alabaster"
html_title = f"twinlab {release}"
html_theme_options = {"description": "a digital twin of primary-care provider workload", "fixed_sidebar": True}

# nbdev docstrings and docments are Markdown, where `x` is code: read single backquotes in docstrings as code too.
default_role = "code"

# Autodoc: each module's `__all__` (nbdev writes it from the exported cells), in source order, with signatures.
autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "signature"
autodoc_preserve_defaults = True       # show `seed=SEED` rather than the value it evaluates to

# MyST: $...$ and $$...$$ are maths (the notebooks write formulas so), and headings get anchors for links to sections.
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3

# myst-nb: execute every notebook and MyST notebook page, keeping the executed copies in a jupyter-cache under _build,
# so that a second build re-runs only the documents whose code changed. jupyter-cache keys a notebook on its own
# code only, so the cache folder is named after the sources the notebooks run (the package, the report templates and
# the shipped data): when any of them changes, every document runs again and no output is stale. A clean build, as in
# CI, runs them all. A cell may take up to ten minutes; a cell that raises fails the build, with its traceback.
ROOT = Path(__file__).resolve().parent.parent


def sources_digest() -> str:
    "sha256 over the files the documents run: twinlab/, reports/ and data/ (names and contents; not report runs)"
    h = hashlib.sha256()
    for folder in ("twinlab", "reports", "data"):
        for f in sorted((ROOT / folder).rglob("*")):
            if f.is_file() and not {"__pycache__", "out", ".ipynb_checkpoints"} & set(f.relative_to(ROOT).parts):
                h.update(f.relative_to(ROOT).as_posix().encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


nb_execution_mode = "cache"
nb_execution_cache_path = str(ROOT / "docs" / "_build" / ".jupyter_cache" / sources_digest())
# `-j auto` reads the documents in several processes. On a clean build each would create the cache's database, and
# they race ("table nbproject already exists", seen in a clean-clone build); creating it here, once, before they start,
# avoids that.
get_cache(nb_execution_cache_path).list_cache_records()
nb_execution_timeout = 600
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True
# The notebooks are executed with the kernel of the Python running Sphinx (the project's .venv).
nb_kernel_rgx_aliases = {".*": "python3"}
