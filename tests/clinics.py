"""Clinics the tests build in code, so that no test needs a file outside the repository."""
import dataclasses
import datetime as dt
from pathlib import Path

from twinlab.clinic import Clinic
from twinlab.synth import virtual_clinic

TABLES = ("roster", "templates", "appointments", "inbox", "audit_log", "monthly")   # the tables a virtual clinic writes


def denver_clinic(providers: int = 3) -> Clinic:
    "The example clinic's first `providers` providers, renamed L-1.., in Denver over four weeks from 2026-09-28"
    example = Clinic.example()
    keep = example.providers[:providers]
    rename = {old: f"L-{i}" for i, old in enumerate(keep, 1)}
    roster = example.roster[example.roster["provider_id"].isin(keep)].assign(provider_id=lambda r: r["provider_id"].map(rename))
    templates = example.templates[example.templates["provider_id"].isin(keep)].assign(provider_id=lambda t: t["provider_id"].map(rename))
    return dataclasses.replace(example, name="Denver test clinic", timezone="America/Denver", start=dt.date(2026, 9, 28),
                               end=dt.date(2026, 10, 23), holidays=frozenset({dt.date(2026, 10, 12)}),
                               roster=roster.reset_index(drop=True), templates=templates.reset_index(drop=True), source="tests")


def csv_clinic(folder: Path, seed: int, days: int) -> Path:
    "A virtual Denver clinic (`denver_clinic`) written to `folder` with every table as CSV, without its truth.json"
    virtual_clinic(folder, denver_clinic(), seed=seed, days=days, formats={t: "csv" for t in TABLES})
    (folder / "truth.json").unlink()
    return folder
