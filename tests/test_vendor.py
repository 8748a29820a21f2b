"""`twinlab import`: an Epic Signal workbook written from a virtual clinic comes back with its monthly totals and
validates and calibrates at tier 1; malformed workbooks fail with one clean line; an access log with raw Epic action
names imports at tier 3 with a coverage report and no patient identifier anywhere."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from twinlab.data import load_clinic
from twinlab.synth import virtual_clinic
from twinlab.vendor import signal_workbook

TWINLAB = str(Path(sys.executable).with_name("twinlab"))
TOTALS = ["clinic_days", "scheduled_hours", "ehr_minutes", "ehr_outside_minutes", "note_minutes", "inbox_minutes", "messages_in"]


def run(*args):
    return subprocess.run([TWINLAB, *map(str, args)], capture_output=True, text=True)


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    "A virtual clinic of 8 weeks (two calendar months and a bit) and its Signal workbook"
    root = tmp_path_factory.mktemp("vendor")
    virtual_clinic(root / "vc", seed=16, days=56)
    monthly = pd.read_csv(root / "vc" / "monthly.csv")
    signal_workbook(monthly, root / "signal.xlsx", grouper="PHYSICIAN + PSYCHIATRIST")
    return root, monthly


def test_signal_round_trip_keeps_the_monthly_totals(clinic):
    root, monthly = clinic
    out = run("import", "epic-signal", root / "signal.xlsx", "--out", root / "imported", "--timezone", "America/Chicago", "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)  # stdout is pure JSON; warnings go to stderr as well
    assert summary["tier"] == 1 and summary["providers"] == monthly["provider_id"].nunique()
    assert "warning: Signal has no clinical FTE" in out.stderr
    back = pd.read_csv(root / "imported" / "monthly.csv")
    key = ["provider_id", "month"]
    a, b = back.sort_values(key).reset_index(drop=True), monthly.sort_values(key).reset_index(drop=True)
    assert (a[key] == b[key]).all().all()
    np.testing.assert_allclose(a[TOTALS].to_numpy(float), b[TOTALS].to_numpy(float), rtol=1e-9)
    roster = pd.read_csv(root / "imported" / "roster.csv")
    assert set(roster["role"]) == {"MD"} and set(roster["estimated"]) == {"clinical_fte;panel_size"}


def test_imported_directory_validates_and_calibrates(clinic):
    root, _ = clinic
    assert run("import", "epic-signal", root / "signal.xlsx", "--out", root / "cal").returncode == 0
    report = json.loads(run("validate", root / "cal", "--json").stdout)
    assert report["valid"] and report["tier"] == 1
    from twinlab.calibrate import calibrate
    with pytest.warns(UserWarning, match="panel sizes are estimated"):
        post = calibrate(load_clinic(root / "cal", salt="t"), seed=1)  # default settings, strict: raises unless it converges
    assert post.converged and np.isclose(post.weights.sum(), 1.0)
    # the estimated panel would hand its own assumption back as messages per panel patient: that summary is left out
    assert "monthly_messages_per_panel_year" not in post.draws.attrs["summaries"] and "monthly_ehr_per_hour" in post.draws.attrs["summaries"]


def test_given_roster_and_templates_are_used(clinic):
    root, _ = clinic
    out = run("import", "epic-signal", root / "signal.xlsx", "--out", root / "given", "--roster", root / "vc" / "roster.csv",
              "--templates", root / "vc" / "templates.csv", "--name", "Riverbend")
    assert out.returncode == 0 and "warning" not in out.stderr
    assert pd.read_csv(root / "given" / "roster.csv").equals(pd.read_csv(root / "vc" / "roster.csv"))


@pytest.mark.parametrize("sheets, message", [
    ({"Time": pd.DataFrame({"DE_ID": ["a"], "Grouper": ["PHYSICIAN"], "Metric": ["Count Of Appointments"], "24-Jul": [3]})}, "no sheet 'Messages'"),
    ({"Time": pd.DataFrame({"DE_ID": ["a"], "Metric": ["Count Of Appointments"], "24-Jul": [3]}),
      "Messages": pd.DataFrame({"DE_ID": ["a"], "Grouper": ["PHYSICIAN"], "Metric": ["x"], "24-Jul": [3]})}, "sheet 'Time': no column 'Grouper'"),
    ({"Time": pd.DataFrame({"DE_ID": ["a"], "Grouper": ["PHYSICIAN"], "Metric": ["Count Of Appointments"], "July": [3]}),
      "Messages": pd.DataFrame({"DE_ID": ["a"], "Grouper": ["PHYSICIAN"], "Metric": ["x"], "24-Jul": [3]})}, "sheet 'Time', column 'July'"),
    ({"Time": pd.DataFrame({"DE_ID": ["a"], "Grouper": ["PHYSICIAN"], "Metric": ["Count Of Appointments"], "24-Jul": ["many"]}),
      "Messages": pd.DataFrame({"DE_ID": ["a"], "Grouper": ["PHYSICIAN"], "Metric": ["x"], "24-Jul": [3]})}, "sheet 'Time', row 2, column '24-Jul': 'many'"),
    ({"Time": pd.DataFrame({"DE_ID": ["a"], "Grouper": ["PHYSICIAN"], "Metric": ["Count Of Appointments"], "24-Jul": [3]}),
      "Messages": pd.DataFrame({"DE_ID": ["a"], "Grouper": ["PHYSICIAN"], "Metric": ["x"], "24-Jul": [3]})}, "no metric 'Count Of In Basket Minutes'"),
])
def test_malformed_workbooks_fail_cleanly(tmp_path, sheets, message):
    with pd.ExcelWriter(tmp_path / "bad.xlsx", engine="openpyxl") as xl:
        for name, df in sheets.items(): df.to_excel(xl, sheet_name=name, index=False)
    out = run("import", "epic-signal", tmp_path / "bad.xlsx", "--out", tmp_path / "out")
    assert out.returncode == 2 and out.stderr.startswith("error: ") and message in out.stderr, out.stderr
    assert "Traceback" not in out.stderr and not (tmp_path / "out").exists()


def test_access_log_imports_with_coverage_report(clinic, tmp_path):
    root, _ = clinic
    names = {"note": "Clinical Note Signed", "order": "Order list changed", "inbox": "In Basket message viewed",
             "chart_review": "Chart Review Notes tab selected"}
    log = pd.read_parquet(root / "vc" / "audit_log.parquet")
    raw = pd.DataFrame({"EMP": log["provider_id"], "ACCESS_TIME": log["timestamp"].str.slice(0, 19).str.replace("T", " "),
                        "METRIC_NAME": log["activity"].map(names).fillna("Unmapped report viewed"),
                        "PAT_ID": [f"Z{i % 997:07d}" for i in range(len(log))], "WORKSTATION_ID": "WS"})
    raw.to_parquet(tmp_path / "access.parquet", index=False)
    out = run("import", "access-log", tmp_path / "access.parquet", "--out", tmp_path / "dir", "--user-column", "EMP",
              "--clinic", root / "vc", "--json")
    assert out.returncode == 0, out.stderr
    s = json.loads(out.stdout)
    other = (log["activity"] == "other").mean()  # the virtual clinic's own share of 'other' events
    assert s["tier"] == 3 and s["events"] == len(log)
    assert s["share_events_other"] == pytest.approx(other, abs=1e-12)
    assert list(s["top_unmapped"]) == (["Unmapped report viewed"] if other > 0 else [])
    written = pd.read_parquet(tmp_path / "dir" / "audit_log.parquet")
    assert (written["activity"].to_numpy() != None).all() and not written.astype(str).apply(lambda c: c.str.contains("Z0")).any().any()
    assert json.loads(run("validate", tmp_path / "dir", "--json").stdout)["valid"]


def test_access_log_missing_column_names_the_flag(tmp_path):
    pd.DataFrame({"USER_ID": ["u"], "TIME": ["2026-01-05 08:00:00"], "METRIC_NAME": ["x"]}).to_csv(tmp_path / "a.csv", index=False)
    out = run("import", "access-log", tmp_path / "a.csv", "--out", tmp_path / "o")
    assert out.returncode == 2 and "no column 'ACCESS_TIME' (time)" in out.stderr and "--time-column" in out.stderr
