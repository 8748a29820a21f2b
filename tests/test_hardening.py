"""Hostile and broken input reaching the command line (issue 14): every problem ends with a non-zero exit and a
cause naming the file, column and value -- never a traceback, never a patient identifier, never a whole 20 MB
field -- and `--json` prints only JSON, with an `error` object when the command fails.

Each test starts from a small virtual clinic written as CSV (3 providers, 7 days) and spoils one thing."""
import builtins
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pandas as pd
import pytest

from twinlab.cli import main
from twinlab.core import YAML_MAX_ALIASES, YAML_MAX_BYTES

from tests.clinics import csv_clinic

TWINLAB = str(Path(sys.executable).with_name("twinlab"))
SALT = "a-test-salt-of-32-characters-0001"


def run(*args, env=None):
    return subprocess.run([TWINLAB, *args], capture_output=True, text=True, env={**os.environ, "TWINLAB_SALT": SALT, **(env or {})})


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    return csv_clinic(tmp_path_factory.mktemp("hardening") / "clinic", seed=4, days=7)


@pytest.fixture
def clinic(base, tmp_path) -> Path:
    "A fresh copy of the valid clinic to spoil"
    return Path(shutil.copytree(base, tmp_path / "clinic"))


def test_the_unspoiled_clinic_is_valid(base):
    out = run("validate", str(base), "--json")
    assert out.returncode == 0 and json.loads(out.stdout)["valid"], out.stdout


def shift_row(path: Path, row: int):
    "Drop the first field of data row `row`: its values shift left, as in an export that lost a cell"
    lines = path.read_text().splitlines()
    lines[row] = lines[row].split(",", 1)[1]
    path.write_text("\n".join(lines) + "\n")


def swap_fields(path: Path, row: int, a: int, b: int):
    "Swap fields `a` and `b` of data row `row`: a patient id lands where a provider id should be"
    lines = path.read_text().splitlines()
    fields = lines[row].split(",")
    fields[a], fields[b] = fields[b], fields[a]
    lines[row] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("fault", ["shifted", "swapped"])
def test_a_misplaced_patient_id_is_never_shown(clinic, tmp_path, fault):
    visits = pd.read_csv(clinic / "appointments.csv", dtype=str)
    patients, last = set(visits["patient_id"]), len(visits) + 1
    if fault == "shifted": shift_row(clinic / "appointments.csv", 3)
    else: swap_fields(clinic / "appointments.csv", 3, 1, 2)
    (clinic / "appointments.csv").write_text((clinic / "appointments.csv").read_text()
                                             + "A9999998,L-1,P\x00777,2026-09-28T08:00:00,20,no_show,,\n")
    patients.add("P\x00777")
    outputs = [run("validate", str(clinic)), run("validate", str(clinic), "--json"),
               run("calibrate", str(clinic), "--out", str(tmp_path / "p.nc")),
               run("calibrate", str(clinic), "--out", str(tmp_path / "p.nc"), "--json")]
    assert [o.returncode for o in outputs] == [1, 1, 2, 2]
    report = json.loads(outputs[1].stdout)
    where = {"shifted": [(3, None)], "swapped": [(3, "provider_id"), (last, "patient_id")]}[fault]
    assert {(f["row"], f["column"]) for f in report["findings"]} >= set(where)
    assert all(f["value"] is None for f in report["findings"] if f["file"] == "appointments.csv")
    line = {"shifted": "appointments.csv, row 3: expected 8 fields, as many as the header (the row has 7",
            "swapped": "appointments.csv, row 3, column 'provider_id': expected a provider_id listed in the roster"}[fault]
    assert line in outputs[0].stdout and line in outputs[2].stderr
    assert json.loads(outputs[3].stdout)["error"]["type"] == "DataError"
    shown = "".join(o.stdout + o.stderr for o in outputs)
    assert [p for p in patients if p in shown or json.dumps(p)[1:-1] in shown or repr(p)[1:-1] in shown] == []
    assert "Traceback" not in shown


@pytest.mark.parametrize("salt", ["1", "weak-salt", "x" * 15])
def test_a_weak_salt_is_refused_without_showing_it(base, salt):
    for out in (run("validate", str(base), env={"TWINLAB_SALT": salt}), run("validate", str(base), "--json", env={"TWINLAB_SALT": salt})):
        assert out.returncode == 2 and out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
        assert "TWINLAB_SALT: the pseudonym salt is shorter than 16 characters" in out.stderr
        assert salt not in out.stderr.replace("16", "").replace("python -c", "") and salt not in out.stdout.replace("16", "")
    assert json.loads(out.stdout)["error"]["type"] == "SpecError"
    assert run("validate", str(base), env={"TWINLAB_SALT": "x" * 16}).returncode == 0


def repeat_column(clinic: Path, table: str, column: str):
    path = clinic / f"{table}.csv"
    header, rest = path.read_text().split("\n", 1)
    i = header.split(",").index(column)
    other = header.split(",")[(i + 1) % len(header.split(","))]
    path.write_text(header.replace(other, column, 1) + "\n" + rest)
    return f"{table}.csv, column '{column}': expected each column name once"


def symlink_loop(clinic: Path):
    (clinic / "appointments.csv").unlink()
    (clinic / "appointments.csv").symlink_to("appointments.csv")
    return "appointments.csv: expected a readable file (Too many levels of symbolic links)"


def directory_for_file(clinic: Path):
    (clinic / "inbox.csv").unlink()
    (clinic / "inbox.csv").mkdir()
    return "inbox.csv: expected a regular file (it is a directory or a device)"


def yaml_text(clinic: Path, old: str, new: str):
    (clinic / "clinic.yaml").write_text((clinic / "clinic.yaml").read_text().replace(old, new))


def bad_date(clinic: Path, key: str, value: str):
    text = (clinic / "clinic.yaml").read_text()
    if key == "holidays": (clinic / "clinic.yaml").write_text(text + f"holidays:\n- {value}\n")
    else: yaml_text(clinic, next(l for l in text.splitlines() if l.startswith(f"{key}:")), f"{key}: {value}")
    return f"clinic.yaml, column '{key}': got '{value}', expected a date as YYYY-MM-DD that exists"


def alias_bomb(clinic: Path):
    levels = "".join(f"  - &{n} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n" for p, n in zip("abcdefgh", "bcdefghi"))
    yaml_text(clinic, "name: ", "lol:\n  - &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + levels + "name: *i\nold_name: ")
    return f"clinic.yaml: expected at most {YAML_MAX_ALIASES} (73 aliases (*name))"


def list_name(clinic: Path):
    yaml_text(clinic, "name: ", "name: [a, b]\nold_name: ")
    return "clinic.yaml, column 'name': got 'list', expected one value (text), not a list or mapping"


def huge_yaml(clinic: Path):
    yaml_text(clinic, "name: ", "notes: " + "x" * YAML_MAX_BYTES + "\nname: ")
    return f"clinic.yaml: expected a short YAML file (larger than {YAML_MAX_BYTES:,} bytes)"


def control_in(clinic: Path, table: str, column: str, char: str, shows_value: bool):
    t = pd.read_csv(clinic / f"{table}.csv", dtype=str, keep_default_na=False)
    t.loc[1, column] = t.loc[1, column][:2] + char + t.loc[1, column][2:]
    t.to_csv(clinic / f"{table}.csv", index=False)
    got = f"got {t.loc[1, column]!r}, " if shows_value else ""
    return f"{table}.csv, row 2, column '{column}': {got}expected an id without control characters"


SPOILS = {
    "roster column twice": lambda c: repeat_column(c, "roster", "role"),
    "appointments column twice": lambda c: repeat_column(c, "appointments", "status"),
    "monthly column twice": lambda c: repeat_column(c, "monthly", "messages_in"),
    "appointments a symlink loop": symlink_loop,
    "inbox a directory": directory_for_file,
    "start 2026-13-45": lambda c: bad_date(c, "start", "2026-13-45"),
    "end 2026-02-30": lambda c: bad_date(c, "end", "2026-02-30"),
    "holiday 2026-1-5": lambda c: bad_date(c, "holidays", "2026-1-5"),
    "alias bomb": alias_bomb,
    "list as the name": list_name,
    "yaml over the size limit": huge_yaml,
    "NUL in a provider_id": lambda c: control_in(c, "roster", "provider_id", "\x00", True),
    "newline in a monthly provider_id": lambda c: control_in(c, "monthly", "provider_id", "\n", True),
    "NUL in a patient id": lambda c: control_in(c, "appointments", "patient_id", "\x00", False),
    "bell in a message id": lambda c: control_in(c, "inbox", "message_id", "\x07", False),
    "tab in an audit-log appointment_id": lambda c: control_in(c, "audit_log", "appointment_id", "\tx", False),
}


def in_process(args: list[str], capsys) -> tuple[int, str, str]:
    "`twinlab ARGS` run in this process (no start-up time): exit code, stdout, stderr"
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("spoil", sorted(SPOILS))
def test_bad_input_is_refused_with_its_place(clinic, tmp_path, spoil, capsys, monkeypatch):
    monkeypatch.setenv("TWINLAB_SALT", SALT)
    expected = SPOILS[spoil](clinic)
    code, out, err = in_process(["validate", str(clinic)], capsys)
    assert code == 1 and expected in out and "Not valid" in out and err == "", out + err
    code, out, err = in_process(["validate", str(clinic), "--json"], capsys)
    assert code == 1 and not json.loads(out)["valid"]
    code, out, err = in_process(["calibrate", str(clinic), "--out", str(tmp_path / "p.nc"), "--json"], capsys)
    assert code == 2 and expected in json.loads(out)["error"]["message"] and err.startswith("error: ")
    assert not (tmp_path / "p.nc").exists()


def test_an_unreadable_file_is_named(clinic, capsys, monkeypatch):
    "Root reads any file, so the refusal is simulated where the file is opened"
    monkeypatch.setenv("TWINLAB_SALT", SALT)
    real_open = builtins.open
    def refuse(file, *args, **kwargs):
        if Path(str(file)).name in ("clinic.yaml", "monthly.csv"): raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)
    with mock.patch("builtins.open", refuse), mock.patch("pandas.io.common.open", refuse, create=True):
        code, out, err = in_process(["validate", str(clinic), "--json"], capsys)
    found = {(f["file"], f["expected"]) for f in json.loads(out)["findings"]}
    assert code == 1 and ("clinic.yaml", "a readable YAML file (Permission denied)") in found
    assert ("monthly.csv", "a readable file (Permission denied)") in found


def test_an_unreadable_directory_is_named(clinic, capsys, monkeypatch):
    monkeypatch.setenv("TWINLAB_SALT", SALT)
    with mock.patch.object(Path, "iterdir", side_effect=PermissionError(13, "Permission denied")):
        for args in (["validate", str(clinic)], ["validate", str(clinic), "--json"]):
            code, out, err = in_process(args, capsys)
            assert code == 2 and err == f"error: {clinic}: Permission denied; expected a readable clinic data directory\n"
    assert json.loads(out)["error"]["type"] == "DataError"


def test_an_os_error_is_one_line(tmp_path, capsys):
    "A file the system refuses, anywhere, is one line and an error object, not a traceback"
    with mock.patch("twinlab.synth.synth", side_effect=PermissionError(13, "Permission denied", str(tmp_path / "vc"))):
        code, out, err = in_process(["synth", "--out", str(tmp_path / "vc"), "--json"], capsys)
    assert code == 2 and err == f"error: [Errno 13] Permission denied: '{tmp_path / 'vc'}'\n"
    assert json.loads(out)["error"] == {"type": "PermissionError", "message": f"[Errno 13] Permission denied: '{tmp_path / 'vc'}'"}


def test_every_independent_problem_in_one_run(clinic):
    "A missing roster column hides neither the templates' nor the tables' own problems"
    roster = pd.read_csv(clinic / "roster.csv", dtype=str).drop(columns="role")
    roster.to_csv(clinic / "roster.csv", index=False)
    templates = pd.read_csv(clinic / "templates.csv", dtype=str)
    templates.loc[0, "weekday"] = "9"
    templates.to_csv(clinic / "templates.csv", index=False)
    visits = pd.read_csv(clinic / "appointments.csv", dtype=str, keep_default_na=False).drop(columns="checkin_at")
    visits.loc[2, "status"] = "done"
    visits.to_csv(clinic / "appointments.csv", index=False)
    monthly = pd.read_csv(clinic / "monthly.csv", dtype=str)
    monthly.loc[0, "clinic_days"] = "40"
    monthly.to_csv(clinic / "monthly.csv", index=False)
    out = run("validate", str(clinic), "--json")
    found = {(f["file"], f["row"], f["column"]) for f in json.loads(out.stdout)["findings"]}
    assert out.returncode == 1 and found == {("roster.csv", None, "role"), ("templates.csv", 1, "weekday"),
                                             ("appointments.csv", None, "checkin_at"), ("appointments.csv", 3, "status"),
                                             ("monthly.csv", 1, "clinic_days")}
    text = run("validate", str(clinic)).stdout
    assert "5 error(s)" in text and "appointments.csv, row 3, column 'status': expected one of completed" in text


def test_a_20_mb_field_is_cut(clinic, tmp_path):
    roster = pd.read_csv(clinic / "roster.csv", dtype=str)
    roster.loc[0, "role"] = "R" * 20_000_000
    roster.to_csv(clinic / "roster.csv", index=False)
    text, data = run("validate", str(clinic)), run("validate", str(clinic), "--json")
    calibrated = run("calibrate", str(clinic), "--out", str(tmp_path / "p.nc"), "--json")
    assert (text.returncode, data.returncode, calibrated.returncode) == (1, 1, 2)
    assert "roster.csv, row 1, column 'role': got '" + "R" * 79 + "…, expected one of MD, DO, NP, PA" in text.stdout
    assert [f["value"] for f in json.loads(data.stdout)["findings"]] == ["R" * 80 + "…"]
    for out in (text, data, calibrated): assert len(out.stdout) + len(out.stderr) < 5_000


def spoiled_roster(clinic: Path) -> Path:
    repeat_column(clinic, "roster", "role")
    return clinic


JSON_COMMANDS = {  # each subcommand taking --json, on a clinic whose roster names a column twice
    "validate": lambda c, t: ["validate", str(c), "--json"],
    "calibrate": lambda c, t: ["calibrate", str(c), "--out", str(t / "p.nc"), "--json"],
    "simulate": lambda c, t: ["simulate", "--clinic", str(c), "--days", "2", "--draws", "2", "--out", str(t / "s.nc"), "--json"],
    "synth": lambda c, t: ["synth", "--clinic", str(c), "--days", "2", "--out", str(t / "vc"), "--json"],
    "uncertainty propagate": lambda c, t: ["uncertainty", "propagate", "--clinic", str(c), "--draws", "2", "--json"],
    "uncertainty sobol": lambda c, t: ["uncertainty", "sobol", "--clinic", str(c), "--draws", "2", "--json"],
    "uncertainty data-value": lambda c, t: ["uncertainty", "data-value", "--clinic", str(c), "--draws", "2", "--json"],
    "import access-log": lambda c, t: ["import", "access-log", str(t / "log.csv"), "--clinic", str(c), "--out", str(t / "imp"), "--json"],
    "whatif": lambda c, t: ["whatif", str(c), "--posterior", str(t / "post.nc"), "--scenarios", str(t / "spec.yaml"), "--json"],
}


@pytest.mark.parametrize("command", sorted(JSON_COMMANDS))
def test_json_failure_prints_only_an_error_object(clinic, tmp_path, command):
    spoiled_roster(clinic)
    pd.DataFrame({"USER_ID": ["L-1"], "ACCESS_TIME": ["2026-09-28 08:00:00"], "METRIC_NAME": ["Note"]}).to_csv(tmp_path / "log.csv", index=False)
    out = run(*JSON_COMMANDS[command](clinic, tmp_path))
    printed = json.loads(out.stdout)   # stdout is JSON and nothing else
    if command == "validate": assert out.returncode == 1 and not printed["valid"]
    else:
        assert out.returncode == 2 and set(printed) == {"error"} and printed["error"]["type"] == "DataError", out.stdout + out.stderr
        assert "roster.csv, column 'role': expected each column name once" in printed["error"]["message"]
        assert out.stderr.startswith("error: ") and "Traceback" not in out.stderr
    assert not any((tmp_path / name).exists() for name in ("p.nc", "s.nc", "vc", "imp"))


@pytest.mark.parametrize("command", ["validate", "calibrate", "import access-log"])
def test_json_weak_salt_is_an_error_object(clinic, tmp_path, command):
    pd.DataFrame({"USER_ID": ["L-1"], "ACCESS_TIME": ["2026-09-28 08:00:00"], "METRIC_NAME": ["Note"]}).to_csv(tmp_path / "log.csv", index=False)
    out = run(*JSON_COMMANDS[command](clinic, tmp_path), env={"TWINLAB_SALT": "short"})
    assert out.returncode == 2 and json.loads(out.stdout)["error"]["type"] == "SpecError"
    assert "TWINLAB_SALT" in json.loads(out.stdout)["error"]["message"] and "Traceback" not in out.stderr
