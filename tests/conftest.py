"""Every test records into a ledger of its own: no test writes into the user's data directory."""
import pytest


@pytest.fixture(autouse=True)
def private_ledger(tmp_path, monkeypatch):
    "TWINLAB_LEDGER in a temporary folder, inherited by the commands a test spawns"
    monkeypatch.setenv("TWINLAB_LEDGER", str(tmp_path / "ledger.jsonl"))
    return tmp_path / "ledger.jsonl"
