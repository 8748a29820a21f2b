"""The `twinlab` console script: every subcommand answers --help, and errors exit non-zero with one line."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from twinlab.clinic import clinic_dir
from twinlab.cli import COMMANDS

TWINLAB = str(Path(sys.executable).with_name("twinlab"))


def run(*args, cwd=None):
    return subprocess.run([TWINLAB, *args], capture_output=True, text=True, cwd=cwd)


def test_help_lists_every_subcommand():
    out = run("--help")
    assert out.returncode == 0
    for name in COMMANDS:
        assert name in out.stdout


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_subcommand_has_help(name):
    out = run(name, "--help")
    assert out.returncode == 0 and f"usage: twinlab {name}" in out.stdout


def test_info_json_names_the_installed_versions():
    out = run("info", "--json")
    info = json.loads(out.stdout)
    import numpy, twinlab
    assert info["twinlab"] == twinlab.__version__ and info["numpy"] == numpy.__version__


def test_unknown_subcommand_is_a_usage_error():
    out = run("frobnicate")
    assert out.returncode == 2 and "invalid choice: 'frobnicate'" in out.stderr


def test_simulate_writes_netcdf_with_the_seed(tmp_path):
    import xarray as xr
    out = run("simulate", "--days", "7", "--draws", "3", "--seed", "5", "--out", str(tmp_path / "sim.nc"), "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    with xr.open_dataset(tmp_path / "sim.nc", engine="h5netcdf") as ds:
        assert dict(ds.sizes) == {"draw": 3, "provider": 8, "date": 7}
        assert ds.attrs["seed"] == 5 == summary["seed"]


def test_synth_then_validate_finds_the_injected_duplicates(tmp_path):
    made = run("synth", "--out", str(tmp_path / "vc"), "--days", "7", "--seed", "2", "--duplicate-events", "0.02", "--json")
    assert made.returncode == 0, made.stderr
    duplicated = json.loads(made.stdout)["mess"]["duplicated_events"]
    checked = run("validate", str(tmp_path / "vc"), "--json")
    report = json.loads(checked.stdout)
    assert checked.returncode == 0 and report["valid"] and report["tier"] == 3
    assert duplicated > 0 and report["duplicates_dropped"] == duplicated


def test_validate_exits_non_zero_and_locates_the_problem(tmp_path):
    import shutil
    bad = tmp_path / "clinic"
    shutil.copytree(clinic_dir("example"), bad)
    roster = (bad / "roster.csv").read_text().replace("E-2,MD,0.8", "E-2,MD,-0.8")
    (bad / "roster.csv").write_text(roster)
    out = run("validate", str(bad), "--json")
    report = json.loads(out.stdout)
    assert out.returncode == 1 and not report["valid"]
    assert {"file": "roster.csv", "row": 2, "column": "clinical_fte"}.items() <= report["findings"][0].items()


def test_twinlab_errors_are_one_line_with_exit_code_2(tmp_path):
    out = run("synth", "--out", str(tmp_path / "vc"), "--late-entries", "1.5")
    assert out.returncode == 2 and out.stderr.startswith("error: ") and "Traceback" not in out.stderr


def test_json_failure_prints_an_error_object(tmp_path):
    out = run("synth", "--out", str(tmp_path / "vc"), "--late-entries", "1.5", "--json")
    error = json.loads(out.stdout)["error"]
    assert out.returncode == 2 and out.stderr.startswith("error: ")
    assert error["type"] == "SpecError" and error["message"] == out.stderr.removeprefix("error: ").strip()
    out = run("calibrate", str(tmp_path / "missing"), "--out", str(tmp_path / "p.nc"), "--json")
    assert out.returncode == 2 and json.loads(out.stdout)["error"]["type"] == "DataError"
    assert not (tmp_path / "p.nc").exists()


def _handles_sigterm(pid: int) -> bool:
    "Whether process `pid` has installed its SIGTERM handler (bit 15 of SigCgt in /proc): twinlab's `main` has started"
    caught = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught.split()[1], 16) >> (15 - 1) & 1)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the process's signal mask from /proc (Linux)")
def test_ctrl_c_prints_one_line(tmp_path):
    import signal
    import time
    # A Ctrl-C reaches a foreground process whose SIGINT is at its default; a parent that runs the tests in the
    # background (a shell's `&`) would hand on an ignored SIGINT, so the default is restored in the child.
    proc = subprocess.Popen([TWINLAB, "calibrate", "example", "--out", str(tmp_path / "p.nc")], stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    while proc.poll() is None and not _handles_sigterm(proc.pid):   # start-up (imports) takes 2 to 8 s, depending on the load
        time.sleep(0.05)
    time.sleep(1)   # into the calibration, which takes 10 s or more
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err.strip().splitlines() == ["interrupted by SIGINT: twinlab calibrate stopped before it finished"]
    assert not (tmp_path / "p.nc").exists()


def test_help_texts_show_percent_signs_once():
    out = run("calibrate", "--help")
    assert out.returncode == 0 and "90% interval" in out.stdout and "%%" not in out.stdout


def test_report_list_shows_each_parameter_with_its_default_kind_and_help():
    text = run("report", "--list").stdout
    assert "  weeks = 4  (a whole number)  length of the period shown, in weeks" in text
    listing = json.loads(run("report", "--list", "--json").stdout)
    assert listing["simulation"]["draws"]["kind"] == "a whole number" and listing["clinic"]["start"]["default"] == "None"


@pytest.mark.parametrize("delay_s", [0.0, 0.3, 2.0])   # as the kernel starts (it must be ended, or it writes its files again); in its work
def test_sigterm_during_a_report_leaves_nothing_behind(tmp_path, delay_s):
    import os
    import signal
    import time
    import tempfile
    scratch = Path(tempfile.mkdtemp(prefix="tl-"))  # short: the kernel's IPC socket paths must fit in 107 characters
    proc = subprocess.Popen([TWINLAB, "report", "simulation", "-p", "days=91", "-p", "draws=3000", "--out", str(tmp_path / "out")],
                            stderr=subprocess.PIPE, text=True, env=os.environ | {"TMPDIR": str(scratch)})
    for _ in range(600):  # wait until the report runs (its temporary folder exists), at most 60 s
        if any(scratch.glob("twinlab-report-*")): break
        time.sleep(0.1)
    time.sleep(delay_s)  # 3,000 parameter sets over 91 days take far longer than 2 s
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM and err.strip().splitlines() == ["interrupted by SIGTERM: twinlab report stopped before it finished"], err
    time.sleep(2)   # time for a kernel left running to write its files
    assert list(scratch.iterdir()) == []  # no partial executed notebook, no kernel files
    scratch.rmdir()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == []  # no outputs and no lock


def _read_all(fd: int) -> str:
    "Everything written to the terminal whose master end is `fd`, until its last writer closes it"
    chunks = []
    while True:
        try: chunk = os.read(fd, 4096)
        except OSError: break   # EIO: the other end is closed
        if not chunk: break
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode(errors="replace")


def test_calibrate_shows_progress_on_a_terminal_and_statsmodels_warnings_as_one_line(tmp_path):
    import fcntl
    import pty
    import struct
    import termios
    import threading
    args = ["calibrate", "example", "--tier", "1", "--seed", "1", "--out", str(tmp_path / "p.nc")]
    quiet = run(*args, "--json")
    assert quiet.returncode == 0 and quiet.stderr == ""   # no bar with --json, and no raw warning with a file path
    noted = json.loads(quiet.stdout)["model_warnings"]
    assert noted and all(w.startswith("SingularMatrixWarning: ") for w in noted), noted   # recorded instead
    master, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 200, 0, 0))   # a new pseudo-terminal is 0 columns wide
    proc = subprocess.Popen([TWINLAB, *args], stdout=subprocess.PIPE, stderr=terminal, text=True)
    os.close(terminal)
    shown = []
    reader = threading.Thread(target=lambda: shown.append(_read_all(master)))   # read while it runs: a full terminal would block it
    reader.start()
    out, _ = proc.communicate(timeout=300)
    reader.join(timeout=30)
    assert proc.returncode == 0 and "calibrating, fit 1: SMC-ABC: 1 SMC-ABC rounds, threshold" in shown[0], shown
    assert "site-packages" not in shown[0] and "Warning:" not in shown[0].replace("SingularMatrixWarning", "")
    assert "statsmodels reported while fitting (recorded in the posterior's diagnostics): SingularMatrixWarning: " in out
