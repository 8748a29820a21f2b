"""Reports end to end: shipped templates run headless, the kernel is the runner's Python, failures name their cell,
and a batch with a failing run finishes the others and completes it on --resume."""
import asyncio
import datetime as dt
import json
import re
import sys

from pathlib import Path

import dask
import nbformat
import pytest
import yaml
from bs4 import BeautifulSoup
from jupyter_client.kernelspec import KernelSpecManager

from twinlab.clinic import Clinic
from twinlab.core import ReportError, SpecError
from twinlab.reports import ReportExecutionError, list_templates, run_batch, run_report

FIXTURES = Path(__file__).resolve().parent / "notebooks"


def sections(page: str) -> list[str]:
    return re.findall(r'<h2 id="[^"]*">(.*?)<a class="anchor-link"', page)


def figures(page: str) -> int:
    return len(re.findall(r'<img[^>]+src="data:image/png;base64,', page))


def fetched(page: str) -> list[str]:
    "Addresses the page would load from the network"
    return re.findall(r'<(?:script|link|img|iframe)[^>]+(?:src|href)="(?:https?:)?//[^"]*"', page)


def readable_page(page: str):
    "Assert what a reader of any report page needs: real alt text on every figure, a table of contents, no warning boxes or library paths"
    soup = BeautifulSoup(page, "html.parser")
    alts = [img.get("alt", "") for img in soup.find_all("img")]
    assert alts and all(len(a) > 40 and a != "No description has been provided for this image" for a in alts), alts
    contents = [(a["href"], a.get_text()) for a in soup.select("nav.twinlab-contents a")]
    assert contents == [(f"#{h['id']}", h.get_text().removesuffix("¶")) for h in soup.find_all("h2")], contents
    assert "site-packages" not in page and not soup.select('[data-mime-type="application/vnd.jupyter.stderr"]')
    assert "NaN" not in soup.get_text()
    return soup


def html_table(soup, *markers: str):
    "The first table of the page whose text contains every one of `markers`"
    return next(t for t in soup.find_all("table") if all(m in t.get_text() for m in markers))


def stdout_of(notebook) -> str:
    return "".join(o.get("text", "") for c in notebook.cells for o in c.get("outputs", []) if o.get("name") == "stdout")


def table_text(notebook, marker: str) -> str:
    "The plain-text view of the first displayed table whose text contains `marker`"
    texts = [o["data"]["text/plain"] for c in notebook.cells for o in c.get("outputs", []) if "text/plain" in o.get("data", {})]
    return next(t for t in texts if marker in t)


@pytest.mark.parametrize("template", list_templates())
def test_every_shipped_template_runs_headless_with_its_defaults(template, tmp_path):
    page = run_report(template, None, tmp_path).read_text()
    assert figures(page) >= 1 and sections(page)[-1] == "Provenance"
    assert fetched(page) == [] and "hl-ipython3" not in page  # self-contained, code hidden
    readable_page(page)


def test_workload_report_has_every_section_of_the_main_job(tmp_path):
    page = run_report("workload", {"seed": 3, "draws": 20, "sobol_n": 16, "value_draws": 200}, tmp_path).read_text()
    assert sections(page) == ["Manager's summary", "1. Data and validation", "2. Calibration", "3. Each provider's workload, with uncertainty",
                              "4. Forecast: the next weeks", "5. What drives the uncertainty", "6. What more data would be worth",
                              "Appendix: reproducibility (STRESS-DES)", "Provenance"]
    # checks, fan charts, forecast, Sobol bars, data-value chart
    assert figures(page) == 5
    assert "inactivity timeout" in page and "per 8 hours" in page and "sha256" in page  # measure definitions and input hashes
    notebook = nbformat.read(tmp_path / "workload.ipynb", as_version=4)
    assert "converged: **True** (round" in "".join(o["data"].get("text/markdown", "") for c in notebook.cells
                                                   for o in c.get("outputs", []) if "data" in o)
    soup = readable_page(page)
    assert "settings, not a table" in html_table(soup, "clinic.yaml").get_text()
    headers = [th.get_text() for th in html_table(soup, "panel size").find_all("th")]
    assert "WOW8 (minutes per 8 h of scheduled patient time)" in headers and "wow8" not in headers
    predicted = html_table(soup, "share of variance from the parameters")
    numbers = [td.get_text() for td in predicted.find_all("td") if re.fullmatch(r"-?[\d.]+", td.get_text())]
    assert len(numbers) >= 20 and all(re.fullmatch(r"-?\d+\.\d\d", n) for n in numbers), numbers  # rounded to 2 decimals
    per_provider = html_table(soup, "EHR work after hours (minutes per session day)", "E-8")
    assert [th.get_text() for th in per_provider.select("tbody th")] == Clinic.example().providers
    readings = [li.get_text() for li in soup.find_all("li") if "the twin predicts" in li.get_text()]
    assert len(readings) == 3
    for text in readings:   # each figure says where the twin lands, as its numbers say
        median, low, high = map(float, re.search(r"predicts ([\d.]+) .*? against [\d.]+ \(([\d.]+) to ([\d.]+);", text).groups())
        where = "inside" if low <= median <= high else "below" if median < low else "above"
        assert f": {where} the published range" in text and (where == "inside" or "real difference" in text), text
    assert "sampling error around a true value of zero" in page   # negative S1 estimates (N = 16 has some) are explained
    assert "The three most effective interventions for them" in page or "No provider is above the target" in page


def test_clinic_report_has_its_sections_figures_and_hours(tmp_path):
    page = run_report("clinic", {"start": dt.date(2026, 1, 12), "weeks": 3}, tmp_path).read_text()
    assert sections(page) == ["Data checks", "Roster", "Weekly templates", "Scheduled hours", "Inbox delegation", "Provenance"]
    assert figures(page) == 2  # the weekly templates and the hours by provider
    assert "Holidays in the period: 2026-01-19." in page
    notebook = nbformat.read(tmp_path / "clinic.ipynb", as_version=4)
    # E-1 has two 4-hour sessions every weekday; the clinic is closed on Monday 2026-01-19 (week 2).
    assert re.search(r"E-1\s+40\.0\s+32\.0\s+40\.0\s+112\.0", table_text(notebook, "week 3"))
    assert notebook.metadata.twinlab.parameters == {"start": "2026-01-12", "weeks": 3}
    assert "settings, not a table" in html_table(readable_page(page), "clinic.yaml").get_text()


def simulation_table(page: str) -> str:
    "The HTML of the per-8-hour metrics table of a simulation page"
    return re.search(r"<table[^>]*>\s*<thead>.*?EHR-Time8.*?</table>", page, re.S).group(0)


def test_simulation_report_has_its_sections_and_is_repeatable_by_seed(tmp_path):
    params = {"days": 14, "draws": 6, "seed": 11}
    first = run_report("simulation", params, tmp_path, name="first").read_text()
    again = run_report("simulation", params, tmp_path, name="again").read_text()
    other = run_report("simulation", {**params, "seed": 12}, tmp_path, name="other").read_text()
    assert sections(first) == ["Setup", "Daily EHR minutes by provider", "EHR use per 8 hours of scheduled patient time", "Provenance"]
    assert figures(first) == 2  # daily EHR minutes with bands, WOW8 spread
    assert "6 parameter sets drawn from the prior; seed 11." in first
    assert simulation_table(first) == simulation_table(again) != simulation_table(other)


def test_max_draws_cap_shrinks_a_report_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("TWINLAB_MAX_DRAWS", "3")
    page = run_report("simulation", {"days": 7, "draws": 50, "seed": 1}, tmp_path).read_text()
    assert "3 parameter sets drawn from the prior" in page
    assert "50 draws capped to 3 by TWINLAB_MAX_DRAWS" in page  # the warning is part of the report


def test_relative_clinic_path_resolves_against_the_callers_directory(tmp_path, monkeypatch):
    (tmp_path / "clinics" / "riverbend").mkdir(parents=True)
    Clinic.example().write(tmp_path / "clinics" / "riverbend")
    monkeypatch.chdir(tmp_path)
    page = run_report("clinic", {"clinic": "clinics/riverbend", "weeks": 1}, "out").read_text()
    assert "<code>clinics/riverbend</code>: data tier 0 (literature only), 0 error(s), 0 warning(s)." in page
    assert (tmp_path / "out" / "clinic.ipynb").exists()


def test_clinic_report_lists_the_findings_then_fails_naming_the_cell(tmp_path):
    Clinic.example().write(tmp_path)
    roster = (tmp_path / "roster.csv").read_text().replace("E-1,MD,1.0", "E-1,MD,-1.0")
    (tmp_path / "roster.csv").write_text(roster)
    with pytest.raises(ReportExecutionError, match=r"(?s)failed in cell 5 \(`checked, findings = validation_report\(clinic\)`\): DataError: .*roster.csv, row 1, column 'clinical_fte'") as e:
        run_report("clinic", {"clinic": str(tmp_path)}, tmp_path / "out")
    kept = nbformat.read(e.value.notebook, as_version=4)
    assert "clinical_fte" in table_text(kept, "expected")  # the findings table was displayed before the error
    assert not (tmp_path / "out" / "clinic.html").exists()


def test_kernel_is_the_runners_python_even_when_python3_is_registered_elsewhere(tmp_path, monkeypatch):
    decoy = tmp_path / "kernels" / "python3"
    decoy.mkdir(parents=True)
    (decoy / "kernel.json").write_text(json.dumps({"argv": ["/nowhere/bin/python3", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                                                   "display_name": "Python 3 (elsewhere)", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    assert KernelSpecManager().get_kernel_spec("python3").argv[0] == "/nowhere/bin/python3"  # what a plain papermill run would start
    run_report(FIXTURES / "probe.ipynb", {"days": 2}, tmp_path / "out")
    seen = json.loads(stdout_of(nbformat.read(tmp_path / "out" / "probe.ipynb", as_version=4)))
    assert seen["executable"] == sys.executable and seen["transport"] == "ipc"


def test_a_report_runs_under_a_running_event_loop_as_in_jupyter(tmp_path):
    async def in_a_notebook(): return run_report(FIXTURES / "probe.ipynb", {"days": 1}, tmp_path)
    assert asyncio.run(in_a_notebook()).exists()


def test_parameters_arrive_typed(tmp_path):
    params = {"days": 3, "rate": 0.25, "start": dt.date(2026, 2, 2), "names": ["a", "b"], "flag": True, "seed": 5}
    run_report(FIXTURES / "probe.ipynb", params, tmp_path)
    notebook = nbformat.read(tmp_path / "probe.ipynb", as_version=4)
    seen = json.loads(stdout_of(notebook))
    assert seen["types"] == {"days": "int", "rate": "float", "start": "date", "names": "list", "flag": "bool",
                             "data_dir": "str", "seed": "int"}
    assert notebook.metadata.twinlab.seed == 5 and notebook.metadata.papermill.parameters["start"] == "2026-02-02"


@pytest.mark.parametrize("fixture, params, timeout_s, message", [
    ("broken.ipynb", None, None, "failed in cell 4 (`1 / divisor`): ZeroDivisionError: division by zero"),
    ("kernel_dies.ipynb", None, None, "failed in cell 3 (`import os`): DeadKernelError: Kernel died"),
    ("slow.ipynb", {"seconds": 30}, 1, "failed in cell 3 (`import time`): CellTimeoutError: A cell timed out"),
])
def test_a_failing_run_names_its_cell_and_keeps_the_notebook(fixture, params, timeout_s, message, tmp_path):
    with pytest.raises(ReportError) as e:
        run_report(FIXTURES / fixture, params, tmp_path, timeout_s=timeout_s)
    assert message in str(e.value)
    assert e.value.notebook == tmp_path / fixture.replace(".ipynb", ".failed.ipynb") and e.value.notebook.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [e.value.notebook.name]  # no page, no stray temporary file


def test_notebook_without_parameters_runs_and_rejects_parameters(tmp_path):
    run_report(FIXTURES / "no_parameters.ipynb", None, tmp_path)
    assert "a notebook without a parameters cell" in stdout_of(nbformat.read(tmp_path / "no_parameters.ipynb", as_version=4))
    with pytest.raises(SpecError, match="unknown parameter days; it has no parameters cell"):
        run_report(FIXTURES / "no_parameters.ipynb", {"days": 1}, tmp_path)


def test_batch_with_a_failing_run_finishes_the_others_and_resume_completes_it(tmp_path):
    spec = tmp_path / "batch.yaml"
    spec.write_text(yaml.safe_dump({"template": "clinic", "parameters": {"weeks": 1},
                                    "grid": {"clinic": ["example", "clinics/late"], "start": ["2026-01-05", "2026-01-12"]},
                                    "name": "{clinic}-{start}"}))
    out = tmp_path / "out"
    first = run_batch(spec, out, workers=2, progress=False)
    assert list(first.run) == ["example-2026-01-05", "example-2026-01-12", "clinics-late-2026-01-05", "clinics-late-2026-01-12"]
    assert list(first.status) == ["ok", "ok", "failed", "failed"]
    assert first.message[2].startswith("cell 5 (`checked, findings = validation_report(clinic)`): DataError: clinics/late: not a directory")
    assert first.output[2] == str(out / "clinics-late-2026-01-05.failed.ipynb")
    assert (first.duration_s[:2] > 0).all() and first.output[0] == str(out / "example-2026-01-05.html")

    (tmp_path / "clinics" / "late").mkdir(parents=True)  # the cause of the failure goes away
    Clinic.example().write(tmp_path / "clinics" / "late")
    second = run_batch(spec, out, workers=2, resume=True, progress=False)
    assert list(second.status) == ["skipped", "skipped", "ok", "ok"]
    assert sorted(p.name for p in out.glob("*.html")) == sorted(f"{r}.html" for r in first.run)
    assert not list(out.glob("*.failed.ipynb"))

    spec.write_text(spec.read_text().replace("weeks: 1", "weeks: 2"))  # new parameters: nothing is up to date
    assert list(run_batch(spec, out, workers=2, resume=True, progress=False).status) == ["ok"] * 4


def test_batch_on_an_existing_scheduler(tmp_path):
    from distributed import LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        table = run_batch({"template": str(FIXTURES / "probe.ipynb"), "grid": {"days": [1, 2, 3]}}, tmp_path,
                          scheduler=cluster.scheduler_address, progress=False)
    assert list(table.status) == ["ok"] * 3, table.message.tolist()


def test_batch_reports_an_unreachable_scheduler(tmp_path):
    # distributed adds its config defaults when first imported; imported inside the `set` below, they would be removed
    # with it on exit (dask restores the keys it found), and every later use of distributed in this process would fail
    import distributed  # noqa: F401
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}), \
         pytest.raises(ReportError, match="Dask scheduler tcp://127.0.0.1:9: cannot connect"):
        run_batch({"template": "clinic", "runs": [{"name": "a"}]}, tmp_path, scheduler="tcp://127.0.0.1:9", progress=False)


HOSTILE = "<img src=x onerror=alert(11)> *Clinic*"
SMALL = {"clinic": {}, "simulation": {"days": 7, "draws": 4, "seed": 3}, "workload": {"seed": 3, "draws": 20, "sobol_n": 16, "value_draws": 200},
         "scenarios": {"weeks": 1, "draws": 8, "seed": 3}, "monitor": {"weeks": 2, "seed": 3}}


@pytest.mark.parametrize("template", list_templates())
def test_a_hostile_clinic_name_shows_as_text(template, tmp_path):
    import shutil
    from twinlab.clinic import clinic_dir
    folder = tmp_path / "hostile"
    shutil.copytree(clinic_dir("example"), folder)
    config = yaml.safe_load((folder / "clinic.yaml").read_text())
    (folder / "clinic.yaml").write_text(yaml.safe_dump(config | {"name": HOSTILE}))
    page = run_report(template, {"clinic": str(folder)} | SMALL[template], tmp_path / "out").read_text()
    assert "<img src=x" not in page and "<em>Clinic</em>" not in page
    assert "&lt;img src=x onerror=alert(11)&gt; *Clinic*" in page


def test_a_report_from_the_command_line_shows_its_own_ledger_entry(tmp_path, capsys):
    """`twinlab report` appends an entry before the report runs; the page shows that entry (hash, time, the previous
    entry, each input's SHA-256), and the command's own entry, appended after, chains to it and hashes the page"""
    from twinlab.cli import main
    from twinlab.ledger import content_hash, read_ledger, verify
    assert main(["report", str(FIXTURES / "probe.ipynb"), "--param", "days=1", "--out", str(tmp_path / "out")]) == 0
    started, finished = read_ledger()
    assert verify() == 2 and started["command"] == "twinlab report probe (started)" and finished["prev"] == started["hash"]
    page = (tmp_path / "out" / "probe.html").read_text()
    row = lambda name: html_table(BeautifulSoup(page, "html.parser"), "ledger entry").find("th", string=name).find_next("td").get_text(" ")
    assert row("ledger entry") == f"{started['hash']}, appended {started['time']} before the report ran"
    assert row("previous ledger entry") == "none: the entry is the ledger's first"
    assert row("inputs (SHA-256)") == f"template (probe.ipynb): {started['inputs']['template']['sha256']}"
    assert finished["outputs"]["out"]["sha256"] == content_hash(tmp_path / "out")   # the page is in what the next entry hashed


def test_each_run_of_a_batch_shows_its_own_ledger_entry(tmp_path):
    "Two runs, two entries appended before they run, in the order of the spec; each page shows its own and names the one before"
    from distributed import LocalCluster
    from twinlab.ledger import read_ledger
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        table = run_batch({"template": str(FIXTURES / "probe.ipynb"), "grid": {"days": [1, 2]}}, tmp_path,
                          scheduler=cluster.scheduler_address, progress=False, record=True)
    assert list(table.status) == ["ok"] * 2, table.message.tolist()
    entries = read_ledger()
    assert [e["command"] for e in entries] == [f"twinlab report probe (batch run {r}) (started)" for r in table.run]
    for run, entry, before in zip(table.run, entries, [None, entries[0]["hash"]]):
        page = (tmp_path / f"{run}.html").read_text()
        assert entry["hash"] in page and entry["inputs"]["template"]["sha256"] in page and entry["prev"] == before
        assert (before or "none: the entry is the ledger's first") in page
