"""The twin kept in step with a clinic (twinlab.twin, `twinlab twin`), on a clinic from the outside generator
(tests/outside_clinic.py, which shares no code with twinlab): init, weekly updates, forecasts, drift alerts, refusals,
determinism and a state that survives a killed update."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from filelock import FileLock

from tests.outside_clinic import outside_clinic
from twinlab.cli import main
from twinlab.core import DataError, SpecError
from twinlab.twin import FORECAST, load_state, update_twin

TWINLAB = Path(sys.executable).with_name("twinlab")
CHANGE = {"from": "2026-02-02", "type": "patient", "factor": 2.0}   # patient messages double from the fifth week on


def shared_folder(tmp_path_factory, worker_id: str) -> Path:
    "A folder of this test session that every xdist worker sees (pytest-xdist's recipe for a fixture made once)"
    return tmp_path_factory.getbasetemp() if worker_id == "master" else tmp_path_factory.getbasetemp().parent


@pytest.fixture(scope="module")
def made(tmp_path_factory, worker_id) -> tuple[Path, Path, dict]:
    """Made once per session, whatever the number of workers: a clinic of four providers, seven weeks from Monday
    2026-01-05, patient messages doubling from 2026-02-02; and a twin calibrated on its first three weeks at tier 2
    (with the JSON that `init` printed)"""
    root = shared_folder(tmp_path_factory, worker_id) / "twin"
    root.mkdir(exist_ok=True)
    with FileLock(str(root / "made.lock")):
        clinic, state, printed = root / "clinic", root / "state", root / "init.json"
        if not printed.exists():
            outside_clinic(clinic, seed=21, providers=4, days=49, start="2026-01-05", change=CHANGE)
            out = subprocess.run([str(TWINLAB), "twin", "init", str(clinic), "--until", "2026-01-25", "--state", str(state), "--seed", "3",
                                  "--tier", "2", "--json"], capture_output=True, text=True, check=True)
            printed.write_text(out.stdout)
    return clinic, state, json.loads(printed.read_text())


@pytest.fixture
def clinic(made) -> Path: return made[0]


@pytest.fixture
def initialised(made) -> tuple[Path, dict]: return made[1], made[2]


def run_json(*argv) -> dict:
    out = subprocess.run([str(TWINLAB), *argv, "--json"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def export_without(clinic: Path, out: Path, dropped) -> Path:
    "A copy of the export without the rows of the day-level tables whose day `dropped(day)` selects"
    out = Path(shutil.copytree(clinic, out))
    for table, column in (("appointments", "scheduled_start"), ("inbox", "received_at"), ("audit_log", "timestamp")):
        t = pd.read_csv(out / f"{table}.csv", dtype=str, keep_default_na=False)
        t[~dropped(t[column].str[:10])].to_csv(out / f"{table}.csv", index=False)
    return out


def copy_of(state: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(state, tmp_path / "state"))


def test_init_prints_the_forecast_of_each_provider(initialised):
    _, result = initialised
    assert result["until"] == "2026-01-25" and result["alerts"] == []
    assert sorted(result["forecast"]) == ["H01", "H02", "H03", "H04"]
    for provider, outputs in result["forecast"].items():
        assert set(FORECAST) <= set(outputs)
        for name, q in outputs.items():
            assert 0 <= q["q05"] <= q["q50"] <= q["q95"], (provider, name, q)
    clinic_total = sum(result["forecast"][p]["messages_in"]["q50"] for p in result["forecast"])
    assert result["clinic"]["messages_in"]["q05"] <= clinic_total <= result["clinic"]["messages_in"]["q95"]


def test_weekly_updates_track_the_clinic_and_flag_the_change(initialised, clinic, tmp_path, capsys):
    """Three weekly updates: the week before the change lies inside the forecast and raises no alert; a doubling of
    patient messages (about +40% of all messages here) is flagged for the clinic within two weeks of its start."""
    state = copy_of(initialised[0], tmp_path)
    def update(day):
        assert main(["twin", "update", str(state), str(clinic), "--until", day, "--json"]) == 0
        return json.loads(capsys.readouterr().out)
    weeks = [update(day) for day in ("2026-02-01", "2026-02-08", "2026-02-15")]
    assert [w["until"] for w in weeks] == ["2026-02-01", "2026-02-08", "2026-02-15"]
    assert weeks[0]["alerts"] == []
    flagged = [a for w in weeks[1:] for a in w["alerts"] if a["provider"] is None and a["output"] == "messages_in"]
    assert flagged and all(a["since"] >= "2026-01-26" for a in flagged), weeks
    monitor = load_state(state).monitor
    before = monitor[monitor["window"] == "2026-02-01"]
    assert before.eval("q05 <= observed <= q95").mean() >= 0.75   # 10 series (4 providers and the clinic, 2 outputs): most inside their 90% intervals
    history = [json.loads(line) for line in (state / (state / "CURRENT").read_text().strip() / "history.jsonl").read_text().splitlines()]
    assert [h["action"] for h in history] == ["init", "update", "update", "update"]
    assert history[1]["first_day"] == "2026-01-26" and history[1]["until"] == "2026-02-01" and history[1]["input_sha256"]
    status = run_json("twin", "status", str(state))
    assert status["updates"] == 3
    assert set(status["dispersion"]) == set(monitor["output"]) and min(status["dispersion"].values()) >= 1, status["dispersion"]
    np.testing.assert_allclose(monitor["z"], monitor["z_model"] / np.sqrt(monitor["dispersion"]))   # standardised by the dispersion it used


def test_the_same_update_gives_the_same_state_whatever_the_threads(initialised, clinic):
    state = load_state(initialised[0])
    one, two = (update_twin(state, clinic, "2026-02-01", workers=w) for w in (1, 2))
    xr.testing.assert_identical(one.posterior.draws, two.posterior.draws)
    xr.testing.assert_identical(one.carried, two.carried)
    pd.testing.assert_frame_equal(one.monitor, two.monitor)


def test_bad_updates_are_refused_naming_the_problem(initialised, clinic, tmp_path):
    state = load_state(initialised[0])
    with pytest.raises(SpecError, match="not after the twin's last update"): update_twin(state, clinic, "2026-01-25")
    with pytest.raises(SpecError, match="past the data"): update_twin(state, clinic, "2026-03-01")
    with pytest.raises(SpecError, match="a state from another clinic"): update_twin(state, "example", "2026-02-01")
    shorter = export_without(clinic, tmp_path / "shorter", lambda day: day > "2026-01-18")
    (shorter / "monthly.csv").unlink()
    (shorter / "clinic.yaml").write_text((shorter / "clinic.yaml").read_text().replace("end: 2026-02-22", "end: 2026-01-18"))
    with pytest.raises(DataError, match="before the twin's last update 2026-01-25"): update_twin(state, shorter, "2026-02-01")
    holed = export_without(clinic, tmp_path / "holed", lambda day: ("2026-01-26" <= day) & (day <= "2026-01-30"))
    with pytest.raises(DataError, match="a gap in the data.*2026-01-26, 2026-01-27, 2026-01-28"): update_twin(state, holed, "2026-02-01")


def test_a_killed_update_leaves_a_usable_state(initialised, clinic, tmp_path):
    """SIGKILL at several moments of `twinlab twin update` (loading, assimilating, writing): every time, the state
    loads and is the old one or the new one, and the next update succeeds and clears what the killed one left."""
    state = copy_of(initialised[0], tmp_path)
    started = time.monotonic()
    subprocess.run([str(TWINLAB), "twin", "update", str(state), str(clinic), "--until", "2026-02-01"], check=True, capture_output=True)
    full = time.monotonic() - started
    fresh = copy_of(initialised[0], tmp_path / "again")
    seen = set()
    for share in (0.3, 0.7, 0.9, 0.97):
        proc = subprocess.Popen([str(TWINLAB), "twin", "update", str(fresh), str(clinic), "--until", "2026-02-01"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(share * full)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        seen.add(load_state(fresh).manifest["until"])
        if load_state(fresh).manifest["until"] == "2026-02-01": break
    assert seen <= {"2026-01-25", "2026-02-01"}
    current = load_state(fresh)
    follow = "2026-02-08" if current.manifest["until"] == "2026-02-01" else "2026-02-01"
    subprocess.run([str(TWINLAB), "twin", "update", str(fresh), str(clinic), "--until", follow], check=True, capture_output=True)
    assert load_state(fresh).manifest["until"] == follow
    assert not [p.name for p in fresh.iterdir() if p.name.startswith(".")]


def test_an_interrupted_write_keeps_the_previous_version(initialised, clinic, tmp_path, monkeypatch):
    "A failure half-way through writing the new version (here: while writing carried.nc) leaves the previous state current"
    from twinlab import twin
    state_dir = copy_of(initialised[0], tmp_path)
    new = update_twin(load_state(state_dir), clinic, "2026-02-01")
    def broken(self, *args, **kwargs): raise OSError("disk full")
    monkeypatch.setattr(xr.Dataset, "to_netcdf", broken)
    with pytest.raises(OSError): twin.save_state(new, state_dir)
    monkeypatch.undo()
    assert load_state(state_dir).manifest["until"] == "2026-01-25"
    twin.save_state(new, state_dir)
    assert load_state(state_dir).manifest["until"] == "2026-02-01"
    assert not [p.name for p in state_dir.iterdir() if p.name.startswith(".")]


def test_a_tampered_state_is_refused(initialised, tmp_path):
    state = copy_of(initialised[0], tmp_path)
    version = state / (state / "CURRENT").read_text().strip()
    monitor = version / "monitor.csv"
    monitor.write_text(monitor.read_text() + "\n")
    with pytest.raises(DataError, match="does not match the state's manifest"): load_state(state)


def test_init_refuses_a_folder_that_holds_a_state(initialised, clinic, capsys):
    assert main(["twin", "init", str(clinic), "--until", "2026-01-25", "--state", str(initialised[0]), "--json"]) == 2
    assert "already holds a twin state" in json.loads(capsys.readouterr().out)["error"]["message"]
