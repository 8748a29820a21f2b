"""Release packets and network calibration: two virtual sites at epsilon = 1, no patient identifier in any packet, an
outside clinic's rates and inbox minutes, and the errors of bad input (through the command line's `main`). The command line's release
and calibrate --packets are exercised in nbs/10_cli.ipynb; here the library is called in-process on data loaded once."""
import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from twinlab.cli import main
from twinlab.clinic import Clinic
from twinlab.data import load_clinic
from twinlab.network import MINUTES_PARAM, calibrate_packets, network_result, site_minutes, site_truth
from twinlab.params import default_space
from twinlab.release import DEFAULT_MAX_DAILY_MINUTES, minutes_cells, provider_minutes, release, write_packet
from twinlab.schema import MESSAGE_TYPES
from twinlab.synth import virtual_clinic
from tests.outside_clinic import TYPES, outside_clinic


@pytest.fixture(scope="module")
def two_sites(tmp_path_factory):
    """Two virtual clinics of the example's eight providers, each with a year of data (about 27,000 patient messages: the
    noise of eight cells at epsilon 1, sd about 640, is 2-5% of each type's total), whose message rates are drawn from
    the prior (so the sites differ); loaded once. The release's noise is not seeded (see twinlab.release): over 40
    releases of this pair the worst of the eight errors had a median of 6% and a maximum of 11%."""
    work = tmp_path_factory.mktemp("sites")
    space, sites = default_space(), {}
    for name, seed in (("North", 31), ("South", 32)):
        truth = {**space.centre(), **{k: float(v[0]) for k, v in space.sample(1, seed=seed).items() if k.startswith("msg_rate_")}}
        clinic = dataclasses.replace(Clinic.example(), name=f"{name} Family Practice")
        virtual_clinic(work / name, clinic, truth=truth, seed=seed, days=364)
        sites[clinic.name] = work / name
    return {site: (path, load_clinic(path)) for site, path in sites.items()}


def test_two_sites_at_epsilon_1_recover_their_rates_within_20_percent(two_sites, tmp_path):
    """The rates as the fixture says; the inbox minutes per provider-day too: about 33 a day over 2,912 provider-days, with
    noise of sd sqrt(8) x sqrt(2) x 480 / 0.3, about 6,400 minutes, on a total of about 96,000 (6.7%): 20% is 3 sd. Over
    40 releases of this pair the worse of the two minutes' errors had a median of 5.3% and a maximum of 11.9%."""
    packets = []
    for site, (path, data) in two_sites.items():
        packet = release(data, 1.0, unit="period")
        assert packet["privacy"]["epsilon_spent"] <= 1
        packets.append(write_packet(packet, tmp_path / f"{path.name}.json"))
    result = network_result(calibrate_packets(packets))
    assert sorted(result["sites"]) == sorted(two_sites)   # named by clinic.yaml
    for site, (path, data) in two_sites.items():
        truth = {**site_truth(path), MINUTES_PARAM: site_minutes(data)}
        for name, value in truth.items():
            estimate = result["sites"][site]["parameters"][name]
            assert abs(estimate["mean"] / value - 1) < 0.2, (site, name, estimate, value)
    assert set(result["network"]) == {f"msg_rate_{t}" for t in MESSAGE_TYPES} | {MINUTES_PARAM}


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
    """Data twinlab.synth did not write: Poisson messages with no weekday pattern, inbox work in bursts; at epsilon 10 the
    noise is small beside the rates. The minutes: no provider-day of this clinic reaches the 480-minute bound (its
    busiest, by the day the messages came, has 112), so the clamp loses nothing; about 8,600 minutes over 168
    provider-days, with noise of sd sqrt(6) x sqrt(2) x 480 / 3, about 550 minutes (6.4%): 20% is 3.1 sd. Over 40
    releases the error had a median of 4.9% and a maximum of 13.9%."""
    truth = outside_clinic(tmp_path / "outside", seed=5)
    params = truth["parameters"]
    panel = sum(p["panel_size"] for p in params.values())
    expected = {f"msg_rate_{t}": rate * sum(p["panel_size"] * p["message_rate_factor"] for p in params.values()) / panel for t, (rate, _) in TYPES.items()}
    data = load_clinic(tmp_path / "outside")
    expected[MINUTES_PARAM] = site_minutes(data)
    assert minutes_cells(data)["minutes"].sum() == np.rint(provider_minutes(data.tables["inbox"], data.clinic, 28)).sum()   # nothing clamped
    packet = write_packet(release(data, 10.0, unit="period"), tmp_path / "o.json")
    site = network_result(calibrate_packets([packet]))["sites"]["Harbor Street Health"]["parameters"]
    for name, value in expected.items():
        assert abs(site[name]["mean"] / value - 1) < 0.2, (name, site[name], value)


def test_a_lower_bound_on_minutes_loses_the_minutes_above_it(two_sites):
    "The clamp per provider-day, checked against the rows: at 30 minutes (near the mean day, 33) the cells hold min(day, 30) per day"
    _, data = next(iter(two_sites.values()))
    days = provider_minutes(data.tables["inbox"], data.clinic, 364)
    assert days.max() < DEFAULT_MAX_DAILY_MINUTES and minutes_cells(data)["minutes"].sum() == np.rint(days).sum()
    assert minutes_cells(data, max_daily_minutes=30)["minutes"].tolist() == np.rint(np.minimum(days, 30)).sum(1).tolist()


def test_the_minutes_intervals_widen_as_epsilon_shrinks(two_sites, tmp_path):
    """Noise variance grows as 1 / epsilon^2: from epsilon 10 to 0.1 the noise's sd on a year's minutes grows from 0.6%
    to 55% of them, so the interval must be many times wider (the prior, 0.5 on the log scale, caps it near 1.6)"""
    widths = {}
    for eps in (0.1, 10.0):
        packets = [write_packet(release(data, eps, unit="period"), tmp_path / f"{path.name}-{eps}.json") for path, data in two_sites.values()]
        q = network_result(calibrate_packets(packets))["sites"]["North Family Practice"]["parameters"][MINUTES_PARAM]
        widths[eps] = (q["q95"] - q["q05"]) / q["mean"]
    assert widths[0.1] > 10 * widths[10.0], widths


def test_bad_packets_and_ledgers_are_named(two_sites, tmp_path, capsys):
    "Through the command line (in-process: the spawned console script is tested in tests/test_cli.py), exit 2 and one error naming the problem"
    path, data = next(iter(two_sites.values()))
    packet = release(data, 2.0)
    (tmp_path / "old.json").write_text(json.dumps({**packet, "schema": "twinlab.release/0"}))
    assert main(["calibrate", "--packets", str(tmp_path / "old.json"), "--out", str(tmp_path / "n.nc"), "--json"]) == 2
    assert "schema 'twinlab.release/0'" in json.loads(capsys.readouterr().out)["error"]["message"]
    packet["cells"]["rows"][0][4] += 1   # one count changed after the release
    (tmp_path / "edited.json").write_text(json.dumps(packet))
    assert main(["calibrate", "--packets", str(tmp_path / "edited.json"), "--out", str(tmp_path / "n.nc")]) == 2
    assert "does not match its content_hash" in capsys.readouterr().err
    assert main(["release", str(path), "--epsilon", "-1", "--out", str(tmp_path / "q.json")]) == 2   # refused before the data are read
    assert "epsilon: got -1.0, expected a number > 0" in capsys.readouterr().err and not (tmp_path / "q.json").exists()
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    assert main(["ledger", "verify", str(tmp_path / "bad.jsonl")]) == 2
    assert "line 1 is not JSON" in capsys.readouterr().err
