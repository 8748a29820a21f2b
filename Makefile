# twinlab — every target bootstraps .venv on a fresh machine, then does its job.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Keyed on the content of pyproject.toml, not its time: nbdev-export rewrites the file unchanged.
INSTALLED := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-16)
# Fingerprint of the literate source and the generated library (to detect what a command changed).
FINGERPRINT = find twinlab nbs -type f \( -name '*.py' -o -name '*.ipynb' \) -not -path '*/.ipynb_checkpoints/*' -not -path '*/__pycache__/*' | LC_ALL=C sort | xargs sha256sum

.PHONY: demo test check-export check-clean nbtest pytest docs bench lab app clean virtual-clinic

$(INSTALLED):
	$(PYTHON) -m venv $(VENV)
	rm -f $(VENV)/.installed-*
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# The main job: the workload report on the shipped virtual clinic; prints where the HTML page is.
demo: $(INSTALLED)
	$(BIN)/twinlab report workload -p seed=1 --out reports/out

# The notebook tests run once, in the docs build: it executes every notebook of nbs/ as nbdev-test does (nbs/ as the
# working directory, `#| slow` and `#| eval: false` cells skipped) and fails on a cell that raises.
test: check-export check-clean pytest docs

check-export: $(INSTALLED)
	@before="$$($(FINGERPRINT))"; $(BIN)/nbdev-export; \
	if [ "$$before" != "$$($(FINGERPRINT))" ]; then \
	  echo "twinlab/ was out of sync with nbs/: nbdev-export changed it. Commit the exported files."; exit 1; fi

check-clean: $(INSTALLED)
	@before="$$($(FINGERPRINT))"; $(BIN)/nbdev-clean; \
	if [ "$$before" != "$$($(FINGERPRINT))" ]; then \
	  echo "Notebooks were not clean: nbdev-clean changed them. Commit the cleaned notebooks."; exit 1; fi

# The notebook tests alone (quicker than `make docs` while editing notebooks).
nbtest: $(INSTALLED)
	$(BIN)/nbdev-test nbs --n-workers 2

pytest: $(INSTALLED)
	$(BIN)/pytest -n 2 --durations=20 tests/

# The documentation site (Sphinx + myst-nb; docs/conf.py says how) in docs/_build/html. It runs every notebook of nbs/,
# the tutorial and the how-tos; warnings are errors. Executed notebooks are cached in docs/_build/.jupyter_cache, so a
# second build re-runs only the notebooks that changed.
docs: $(INSTALLED)
	$(BIN)/sphinx-build -W --keep-going -j auto -b html docs docs/_build/html

bench: $(INSTALLED)
	$(BIN)/python -m bench.run

# Regenerates data/virtual_clinic/ bit for bit (fixed seed; tests/test_roundtrip.py checks the files match).
virtual-clinic: $(INSTALLED)
	$(BIN)/python -c 'from twinlab.synth import write_shipped_clinic; write_shipped_clinic("data/virtual_clinic")'

lab: $(INSTALLED)
	$(BIN)/jupyter lab --notebook-dir=. $(if $(filter 0,$(shell id -u)),--allow-root)

# The what-if app (apps/whatif.ipynb) as a standalone page under Voila; TWINLAB_CLINIC and TWINLAB_POSTERIOR choose the clinic and posterior.
app: $(INSTALLED)
	$(BIN)/voila apps/whatif.ipynb

clean:
	rm -rf $(VENV) reports/out build dist *.egg-info .pytest_cache .hypothesis docs/_build
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
