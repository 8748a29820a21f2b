"""Release packets and network calibration: two virtual sites at epsilon = 1, no patient identifier in any packet, an
outside clinic's rates, and the errors of bad input (through the command line). The command line's release and
calibrate --packets are exercised in nbs/10_cli.ipynb; here the library is called in-process on data loaded once."""
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from twinlab.clinic import Clinic
from twinlab.data import load_clinic
from twinlab.network import calibrate_packets, network_result, site_truth
from twinlab.release import release, write_packet
from twinlab.params import default_space
from twinlab.schema import MESSAGE_TYPES
from twinlab.synth import virtual_clinic
from tests.outside_clinic import outside_clinic

TWINLAB = str(Path(sys.executable).with_name("twinlab"))


def run(*args):
    return subprocess.run([TWINLAB, *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def two_sites(tmp_path_factory):
    """Two thirteen-week virtual clinics with the example's providers at twice its panel sizes (so about 13,000 patient
    messages each: the noise of eight cells at epsilon 1, sd about 640, is about 5% of that), whose message rates are
    drawn from the prior (so the sites differ); loaded once"""
    work = tmp_path_factory.mktemp("sites")
    space, sites = default_space(), {}
    for name, seed in (("North", 31), ("South", 32)):
        truth = {**space.centre(), **{k: float(v[0]) for k, v in space.sample(1, seed=seed).items() if k.startswith("msg_rate_")}}
        example = Clinic.example()
        clinic = dataclasses.replace(example, name=f"{name} Family Practice", roster=example.roster.assign(panel_size=example.roster["panel_size"] * 2))
        virtual_clinic(work / name, clinic, truth=truth, seed=seed)
        sites[clinic.name] = work / name
    return {site: (path, load_clinic(path)) for site, path in sites.items()}


def test_two_sites_at_epsilon_1_recover_their_rates_within_20_percent(two_sites, tmp_path):
    packets = []
    for site, (path, data) in two_sites.items():
        packet = release(data, 1.0, unit="period")
        assert packet["privacy"]["epsilon_spent"] <= 1
        packets.append(write_packet(packet, tmp_path / f"{path.name}.json"))
    result = network_result(calibrate_packets(packets))
    assert sorted(result["sites"]) == sorted(two_sites)   # named by clinic.yaml
    for site, (path, _) in two_sites.items():
        truth = site_truth(path)
        for name, value in truth.items():
            estimate = result["sites"][site]["parameters"][name]
            assert abs(estimate["mean"] / value - 1) < 0.2, (site, name, estimate, value)
    assert set(result["network"]) == {f"msg_rate_{t}" for t in MESSAGE_TYPES}


def test_no_identifier_of_the_input_is_in_a_packet(two_sites, tmp_path):
    path, data = next(iter(two_sites.values()))
    text = write_packet(release(data, 1.0), tmp_path / "p.json").read_text()
    appointments, inbox = pd.read_csv(path / "appointments.csv"), pd.read_parquet(path / "inbox.parquet")
    roster = pd.read_csv(path / "roster.csv")
    identifiers = {*appointments["patient_id"].astype(str), *appointments["appointment_id"].astype(str), *inbox["message_id"].astype(str),
                   *roster["provider_id"].astype(str)}   # provider ids too: pseudonymised by default
    assert len(identifiers) > 1000
    assert [i for i in identifiers if i in text] == []
    assert "T" not in {c for row in json.loads(text)["cells"]["rows"] for c in str(row[1])}   # week starts are dates, no clock times


def test_an_outside_clinic_is_recovered_from_its_packet(tmp_path):
    "Data twinlab.synth did not write: Poisson messages with no weekday pattern; at epsilon 10 the noise is small beside the rate"
    truth = outside_clinic(tmp_path / "outside", seed=5)
    params = truth["parameters"]
    from tests.outside_clinic import TYPES
    panel = sum(p["panel_size"] for p in params.values())
    expected = {f"msg_rate_{t}": rate * sum(p["panel_size"] * p["message_rate_factor"] for p in params.values()) / panel for t, (rate, _) in TYPES.items()}
    packet = write_packet(release(tmp_path / "outside", 10.0, unit="period"), tmp_path / "o.json")
    site = network_result(calibrate_packets([packet]))["sites"]["Harbor Street Health"]["parameters"]
    for name, value in expected.items():
        assert abs(site[name]["mean"] / value - 1) < 0.2, (name, site[name], value)


def test_bad_packets_and_ledgers_are_named(two_sites, tmp_path):
    path, data = next(iter(two_sites.values()))
    packet = release(data, 2.0)
    (tmp_path / "old.json").write_text(json.dumps({**packet, "schema": "twinlab.release/0"}))
    out = run("calibrate", "--packets", str(tmp_path / "old.json"), "--out", str(tmp_path / "n.nc"), "--json")
    assert out.returncode == 2 and "schema 'twinlab.release/0'" in json.loads(out.stdout)["error"]["message"]
    packet["cells"]["rows"][0][4] += 1   # one count changed after the release
    (tmp_path / "edited.json").write_text(json.dumps(packet))
    out = run("calibrate", "--packets", str(tmp_path / "edited.json"), "--out", str(tmp_path / "n.nc"))
    assert out.returncode == 2 and "does not match its content_hash" in out.stderr
    out = run("release", str(path), "--epsilon", "-1", "--out", str(tmp_path / "q.json"))   # refused before the data are read
    assert out.returncode == 2 and "epsilon: got -1.0, expected a number > 0" in out.stderr and not (tmp_path / "q.json").exists()
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    out = run("ledger", "verify", str(tmp_path / "bad.jsonl"))
    assert out.returncode == 2 and "line 1 is not JSON" in out.stderr
