"""An outside clinic: a clinic data directory written by a plain generator that shares no code with twinlab.

It has its own conventions, not twinlab's (`twinlab.synth`): the provider reviews the chart just
before each visit, orders at its end, writes the note straight after or defers it to the end of
the day or the evening; messages are handled in bursts (early morning, lunch, end of day, evenings,
some weekend afternoons); visits run late; every day has its own pace. While the provider works,
the EHR logs an event at the start of each activity and then every 20-70 s; nothing is logged at
the end of an activity. Between activities the provider is idle (in the room with the patient,
or away). Providers differ by up to +-50% in documentation time, message handling time and message
rates. Times are written as local wall-clock times without offset; all tables are CSV.

`outside_clinic(out, seed)` writes the directory and `truth.json` (the true minutes per provider-day
and each provider's parameters) and returns the truth. It imports numpy and pandas only.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

TIMEZONE = "America/New_York"
SESSIONS = ((8 * 3600 + 1800, 12 * 3600), (13 * 3600, 16 * 3600 + 1800))  # 08:30-12:00, 13:00-16:30 (seconds after midnight)
SLOT = 20 * 60
TYPES = {"patient": (3.0, 150), "result": (3.0, 60), "rx": (2.0, 40), "other": (2.0, 60)}  # messages/patient/year, median seconds
DELEGATED = {"patient": 0.2, "result": 0.3, "rx": 0.6, "other": 0.5}
MESSAGE_SIGMA = 0.5  # lognormal shape of a message's seconds
EMPTY_SLOT, NO_SHOW = 0.1, 0.1  # a slot left unbooked; a booked patient who does not come
CHART_REVIEW, ORDER, NOTE = (120, 0.3), (90, 0.4), (300, 0.4)  # per visit: median seconds (x documentation factor x pace), lognormal shape
PACE_SIGMA = 0.2  # lognormal shape of each provider-day's pace (median 1) on chart review, orders and notes
ROLES = ("MD", "NP", "DO", "PA", "MD", "MD", "NP", "DO")
FTES = (1.0, 0.8, 1.0, 0.6, 0.8, 1.0, 0.6, 1.0)


def _provider_params(rng, i: int) -> dict:
    "True parameters of provider i"
    fte = FTES[i % len(FTES)]
    return {"role": ROLES[i % len(ROLES)], "clinical_fte": fte, "panel_size": int(1600 * fte), "workdays": list(range(round(5 * fte))),
            "documentation_factor": float(rng.uniform(0.5, 1.5)), "message_time_factor": float(rng.uniform(0.5, 1.5)),
            "message_rate_factor": float(rng.uniform(0.5, 1.5)), "evening_prob": float(rng.uniform(0.2, 0.8))}


class _Day:
    "One provider-day being laid out: activities (start, end, activity, appointment) in seconds after midnight"
    def __init__(self): self.acts, self.t = [], 0

    def work(self, start: int, seconds: float, activity: str, appointment=None) -> int:
        start = max(int(start), self.t)
        end = start + max(1, int(round(seconds)))
        self.acts.append((start, end, activity, appointment))
        self.t = end
        return end


def _burst(day: _Day, start: int, pending: list, date, limit: int, rng, p: dict, done: list):
    "Handle up to `limit` pending messages that arrived before `start`, back to back"
    t = max(start, day.t)
    ready = [m for m in pending if (m["date"], m["arrival"]) <= (date, t)][:limit]
    for m in ready:
        seconds = TYPES[m["type"]][1] * p["message_time_factor"] * rng.lognormal(0, MESSAGE_SIGMA)
        t0 = max(t, day.t)
        end = day.work(t0, seconds, "inbox")
        m |= {"completed": (date, end), "active_seconds": end - t0}
        pending.remove(m)
        done.append(m)
        t = end


def _session_day(day: _Day, pid: str, date, p: dict, pace: float, rng, pending, done, appts) -> list:
    "Visits of both sessions with their chart review, orders and notes; returns deferred note seconds"
    deferred = []
    if rng.random() < 0.7: _burst(day, 7 * 3600 + 40 * 60 + int(rng.uniform(0, 900)), pending, date, 12, rng, p, done)
    for k, (s0, s1) in enumerate(SESSIONS):
        for slot in range(s0, s1, SLOT):
            if rng.random() > 1 - EMPTY_SLOT: continue
            aid = f"{pid}-{date:%Y%m%d}-{slot // 60:04d}"
            came = rng.random() > NO_SHOW
            row = {"appointment_id": aid, "provider_id": pid, "patient_id": f"{pid}-{rng.integers(1, p['panel_size']):05d}",
                   "scheduled_start": (date, slot), "slot_minutes": SLOT // 60, "status": "completed" if came else "no_show",
                   "checkin_at": None, "checkout_at": None}
            appts.append(row)
            if not came: continue
            review = CHART_REVIEW[0] * p["documentation_factor"] * pace * rng.lognormal(0, CHART_REVIEW[1])
            day.work(max(day.t, slot - review), review, "chart_review", aid)
            face_end = max(day.t, slot) + int(840 * rng.lognormal(0, 0.35))
            day.t = face_end  # face time: no EHR events
            end = day.work(face_end, ORDER[0] * p["documentation_factor"] * pace * rng.lognormal(0, ORDER[1]), "order", aid)
            row |= {"checkin_at": (date, slot - int(rng.uniform(0, 720))), "checkout_at": (date, end)}
            note = NOTE[0] * p["documentation_factor"] * pace * rng.lognormal(0, NOTE[1])
            if rng.random() < 0.5: day.work(end, note, "note", aid)
            else: deferred.append((note, aid))
        if k == 0 and rng.random() < 0.5: _burst(day, max(day.t, 12 * 3600) + int(rng.uniform(300, 1200)), pending, date, 10, rng, p, done)
    return deferred


def _provider_day(pid: str, date, p: dict, rng, pending: list, done: list, appts: list) -> _Day:
    "Lay out one provider-day"
    day, pace = _Day(), float(rng.lognormal(0, PACE_SIGMA))
    if date.weekday() in p["workdays"]:
        deferred = _session_day(day, pid, date, p, pace, rng, pending, done, appts)
        day.t = max(day.t, SESSIONS[-1][1]) + int(rng.uniform(120, 900))
        evening = rng.random() < p["evening_prob"]
        now = deferred[: len(deferred) // 2] if evening else deferred
        for note, aid in now: day.work(day.t, note, "note", aid)
        _burst(day, day.t, pending, date, 15, rng, p, done)
        if evening:
            day.t = 19 * 3600 + 30 * 60 + int(rng.uniform(0, 3600))
            for note, aid in deferred[len(now):]: day.work(day.t, note, "note", aid)
            _burst(day, day.t + int(rng.uniform(60, 600)), pending, date, 40, rng, p, done)
    elif rng.random() < 0.5:
        _burst(day, 14 * 3600 + int(rng.uniform(0, 3 * 3600)), pending, date, 40, rng, p, done)
    return day


def _events(acts: list, rng) -> list:
    "Event seconds and activity: one at each activity's start, then every 20-70 s while it lasts"
    out = []
    for s, e, activity, aid in acts:
        t = s
        while t < e:
            out.append((t, activity, aid))
            t += int(rng.integers(20, 71))
    return out


def _work_end(acts: list, t: int) -> int:
    "End of the back-to-back work that holds second t"
    end = next(e for s, e, *_ in acts if s <= t < e)
    for s, e, *_ in acts:
        if s == end: end = e
    return end


def _excess(events: list, timeout_s: int, last_event_s: int) -> dict:
    "Minutes each active-time rule credits beyond the work, from the pauses after each stretch of work (events: time, activity, appointment, work end)"
    capped = gap = 0.0
    pauses = 0
    for (t, *_, end), nxt in zip(events, events[1:] + [(np.inf,)]):
        if nxt[0] <= end: continue  # the next event is in the same stretch of work
        pauses += 1
        after, age = nxt[0] - t, end - t
        capped += min(after, timeout_s) - age
        gap += (after if after < timeout_s else last_event_s) - age
    return {"pauses": pauses, "capped_minutes": capped / 60, "gap_minutes": gap / 60}


def _outside(acts: list, blocks: list) -> float:
    "Seconds of the activities outside the blocks"
    inside = sum(max(0, min(e, b1) - max(s, b0)) for s, e, *_ in acts for b0, b1 in blocks)
    return sum(e - s for s, e, *_ in acts) - inside


def _changed(change: dict | None, pid: str, kind: str, date) -> float:
    "The factor `change` puts on provider pid's rate of messages of type `kind` on `date`"
    if not change or kind != change["type"] or date < pd.Timestamp(change["from"]) or pid not in change.get("providers", [pid]): return 1.0
    return float(change["factor"])


def _stamp(date, seconds: int) -> str:
    return (pd.Timestamp(date) + pd.Timedelta(seconds=int(seconds))).strftime("%Y-%m-%d %H:%M:%S")


def outside_clinic(out, seed: int, providers: int = 6, days: int = 28, start: str = "2026-04-06", timeout_s: int = 300,
                   last_event_s: int = 30, change: dict | None = None) -> dict:
    """Write an outside clinic's data directory with truth.json; return the truth. `change`, e.g.
    {"from": "2026-05-04", "type": "patient", "factor": 1.5, "providers": ["H01"]} (all providers if "providers" is left
    out), multiplies that message type's rate from that day on: a sustained change for the twin to detect."""
    rng = np.random.default_rng(seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    dates = pd.date_range(start, periods=days, freq="D")
    params = {f"H{i + 1:02d}": _provider_params(rng, i) for i in range(providers)}
    appts, inbox, log, truth_rows, pauses = [], [], [], [], {}
    for pid, p in params.items():
        pending, done, events = [], [], []
        for date in dates:
            for kind, (rate, _) in TYPES.items():
                for _ in range(rng.poisson(p["panel_size"] * rate * p["message_rate_factor"] * _changed(change, pid, kind, date) / 365)):
                    m = {"id": f"{pid}-M{len(inbox) + 1:06d}", "provider": pid, "type": kind, "date": date,
                         "arrival": int(rng.uniform(6 * 3600, 20 * 3600)), "team": rng.random() < DELEGATED[kind]}
                    inbox.append(m)
                    if m["team"]: m |= {"completed": (date, m["arrival"] + int(rng.uniform(300, 4 * 3600)))}
            pending += sorted((m for m in inbox if m["provider"] == pid and m["date"] == date and not m["team"]), key=lambda m: m["arrival"])
            mine = []
            day = _provider_day(pid, date, p, rng, pending, done, mine)
            appts += mine
            checkouts = [r["checkout_at"][1] for r in mine if r["checkout_at"]]
            blocks = [] if date.weekday() not in p["workdays"] else [
                (s0, max([s1] + [c for c in checkouts if s0 <= c <= s1 + 3 * 3600 and (k == 1 or c < SESSIONS[1][0])]))
                for k, (s0, s1) in enumerate(SESSIONS)]
            minutes = lambda kind: sum(e - s for s, e, a, _ in day.acts if kind in (None, a)) / 60
            truth_rows.append({"provider": pid, "date": str(date.date()), "ehr_minutes": minutes(None), "inbox_minutes": minutes("inbox"),
                               "note_minutes": minutes("note"), "ehr_outside_minutes": _outside(day.acts, blocks) / 60})
            base = int(pd.Timestamp(date).timestamp())  # wall-clock seconds: no clock change in the period
            events += [(base + t, a, aid, base + _work_end(day.acts, t)) for t, a, aid in _events(day.acts, rng)]
        log += [(pid, *e) for e in events]
        pauses[pid] = _excess(events, timeout_s, last_event_s)
    _write(out, dates, params, appts, inbox, log, truth_rows)
    truth = {"generator": "tests/outside_clinic.py", "seed": seed, "change": change, "timezone": TIMEZONE, "start": str(dates[0].date()),
             "end": str(dates[-1].date()), "parameters": params, "days": truth_rows, "measure_excess": pauses}
    (out / "truth.json").write_text(json.dumps(truth, indent=1, default=str) + "\n")
    return truth


def _write(out: Path, dates, params: dict, appts: list, inbox: list, log: list, truth_rows: list):
    "The clinic data directory: clinic.yaml and CSV tables"
    (out / "clinic.yaml").write_text(f"name: Harbor Street Health\ntimezone: {TIMEZONE}\nstart: {dates[0].date()}\nend: {dates[-1].date()}\n"
                                     "delegation:\n" + "".join(f"  {k}: {v}\n" for k, v in DELEGATED.items()))
    pd.DataFrame([{"provider_id": k, "role": p["role"], "clinical_fte": p["clinical_fte"], "panel_size": p["panel_size"]}
                  for k, p in params.items()]).to_csv(out / "roster.csv", index=False)
    hm = lambda s: f"{s // 3600:02d}:{s % 3600 // 60:02d}"
    pd.DataFrame([{"provider_id": k, "weekday": w, "start": hm(s0), "end": hm(s1), "slot_minutes": SLOT // 60}
                  for k, p in params.items() for w in p["workdays"] for s0, s1 in SESSIONS]).to_csv(out / "templates.csv", index=False)
    when = lambda v: None if v is None else _stamp(*v)
    pd.DataFrame([{k: when(v) if k.endswith(("_at", "_start")) else v for k, v in r.items()} for r in appts]).to_csv(out / "appointments.csv", index=False)
    pd.DataFrame([{"message_id": m["id"], "provider_id": m["provider"], "received_at": _stamp(m["date"], m["arrival"]), "message_type": m["type"],
                   "handled_by": "team" if m["team"] else "provider", "completed_at": when(m.get("completed")),
                   "active_seconds": m.get("active_seconds")} for m in inbox]).to_csv(out / "inbox.csv", index=False)
    pd.DataFrame([{"provider_id": pid, "timestamp": pd.Timestamp(t, unit="s").strftime("%Y-%m-%d %H:%M:%S"), "activity": a,
                   "appointment_id": aid} for pid, t, a, aid, _ in log]).to_csv(out / "audit_log.csv", index=False)
    d = pd.DataFrame(truth_rows)
    d["month"], d["clinic_days"] = d["date"].str[:7], [pd.Timestamp(x).weekday() in params[k]["workdays"] for k, x in zip(d["provider"], d["date"])]
    m = d.groupby(["provider", "month"]).agg(clinic_days=("clinic_days", "sum"), ehr_minutes=("ehr_minutes", "sum"),
        ehr_outside_minutes=("ehr_outside_minutes", "sum"), note_minutes=("note_minutes", "sum"), inbox_minutes=("inbox_minutes", "sum")).reset_index()
    m["scheduled_hours"] = m["clinic_days"] * 7.0
    m["messages_in"] = [sum(1 for x in inbox if x["provider"] == k and f"{x['date']:%Y-%m}" == mo) for k, mo in zip(m["provider"], m["month"])]
    m.rename(columns={"provider": "provider_id"}).round(2)[["provider_id", "month", "clinic_days", "scheduled_hours", "ehr_minutes",
        "ehr_outside_minutes", "note_minutes", "inbox_minutes", "messages_in"]].to_csv(out / "monthly.csv", index=False)
