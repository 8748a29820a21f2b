"""The provenance ledger: any one-character change is caught, an untouched ledger verifies, concurrent appends keep the chain."""
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor

import pytest

from twinlab.core import TwinlabError
from twinlab.ledger import append, read_ledger, verify


def small_ledger(path, tmp_path):
    data = tmp_path / "in.csv"
    data.write_text("a\n1\n")
    append("twinlab validate dir=in", inputs={"dir": data}, path=path)
    append("twinlab release dir=in epsilon=0.5", inputs={"dir": data}, epsilon=0.5, dataset="Clinic A", path=path)
    append("twinlab calibrate packets=['p.json']", seed=7, path=path)


def test_an_untouched_ledger_verifies(tmp_path):
    led = tmp_path / "l.jsonl"
    small_ledger(led, tmp_path)
    assert verify(led) == 3


def test_every_one_character_change_fails_verify(tmp_path):
    led = tmp_path / "l.jsonl"
    small_ledger(led, tmp_path)
    text = led.read_bytes()
    missed = []
    for i in range(len(text)):
        for replacement in {b"0", b"a"} - {text[i:i + 1]}:   # a digit and a letter: each position changed twice
            led.write_bytes(text[:i] + replacement + text[i + 1:])
            try:
                verify(led)
                missed.append(i)
            except TwinlabError:
                pass
    assert missed == []


def test_verify_names_the_first_bad_entry_on_the_command_line(tmp_path):
    led = tmp_path / "l.jsonl"
    small_ledger(led, tmp_path)
    lines = led.read_text().splitlines(True)
    led.write_text(lines[0] + lines[1].replace('"epsilon":0.5', '"epsilon":0.1') + lines[2])
    out = subprocess.run([sys.executable, "-m", "twinlab", "ledger", "verify", str(led)], capture_output=True, text=True)
    assert out.returncode == 2 and "entry 2 (line 2" in out.stderr


def _append_many(args):
    path, k = args
    for i in range(10):
        append(f"worker {k} entry {i}", path=path)


def test_concurrent_appends_keep_one_chain(tmp_path):
    led = tmp_path / "l.jsonl"
    with ProcessPoolExecutor(4) as pool:
        list(pool.map(_append_many, [(str(led), k) for k in range(4)]))
    assert verify(led) == 40
    assert len({e["hash"] for e in read_ledger(led)}) == 40
