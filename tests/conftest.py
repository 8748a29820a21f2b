"""Every test records into a ledger of its own: no test writes into the user's data directory."""
import pytest


@pytest.fixture(autouse=True)
def private_ledger(tmp_path_factory, monkeypatch):
    "TWINLAB_LEDGER in a temporary folder of its own (not the test's tmp_path), inherited by the commands a test spawns"
    path = tmp_path_factory.mktemp("ledger") / "ledger.jsonl"
    monkeypatch.setenv("TWINLAB_LEDGER", str(path))
    return path
