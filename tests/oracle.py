"""SimPy oracle of the twinlab model: an independent, event-by-event reference implementation (tests only).

`simulate_oracle` simulates the processes of `twinlab.model.simulate` for one parameter set, written
from the same contract (nbs/03_model.ipynb, section 'The day, provider by provider') but
without reading the model's code and in a different style: a discrete-event simulation with SimPy 4.
Each provider has two processes, one delivering the inbox messages of every calendar day at
midnight and one walking each day through its template blocks patient by patient (running late
carries from visit to visit and from block to block), working the queue of work items in each gap
as it comes (whole items that fit before the next patient or the block's end), then after hours up
to the budget. Each provider-day has its own pace (a factor on the EHR minutes of the work arising
that day) and its own after-hours budget factor. Work items wait in a priority queue in the contract's order: deferred notes before
messages, oldest day first.

The agreement tests (tests/test_oracle_agreement.py) and the speed benchmark (bench/bench_simulate.py)
trust this file as the reference, so it is plain on purpose: one rule of the contract per place, in
the order the contract states them, and no vectorisation. It is not part of the twinlab package;
nothing in twinlab imports it.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import simpy
import xarray as xr

import twinlab
from twinlab.core import as_generator, resolve_seed
from twinlab.model import MESSAGE_TYPES, WEEKDAY_FACTORS

# The clock (minutes) gives each date its own frame, starting at the date's midnight. A frame is longer
# than a day so that work running past midnight (visits much longer than their slots, then after-hours
# work) does not delay the next date's sessions, which the contract starts on time; such work counts
# for the date it belongs to. No day's work comes near 10 days.
MINUTES_PER_DATE_FRAME = 10 * 1440
# When a provider who works on a non-session day starts (09:00). It only places that work on the
# clock: no output depends on it. It must be after midnight, when the day's messages arrive.
NON_SESSION_WORK_START_MINUTE = 9 * 60
DAYS_PER_YEAR = 365  # message rates are per patient per year; the contract divides by 365

# name: (units, long_name), in the contract's order
OUTPUTS = {
    "scheduled_minutes": ("minutes", "scheduled patient-session time"),
    "booked": ("visits", "booked slots"),
    "arrived": ("visits", "patients who came"),
    "face_minutes": ("minutes", "face-to-face visit time"),
    "note_minutes": ("minutes", "note time (in room, plus deferred notes done)"),
    "chart_review_minutes": ("minutes", "chart review time"),
    "order_minutes": ("minutes", "order entry time"),
    "inbox_minutes": ("minutes", "time on inbox messages done"),
    "ehr_minutes": ("minutes", "active EHR time"),
    "ehr_outside_minutes": ("minutes", "EHR time outside scheduled hours"),
    "messages_in": ("messages", "inbox messages arrived, delegated ones included"),
    "messages_to_provider": ("messages", "inbox messages that reached the provider"),
    "backlog": ("items", "work items left in the queue at day end"),
    "backlog_minutes": ("minutes", "minutes of the work items left at day end"),
    "open_messages": ("messages", "messages left in the queue at day end"),
    "overrun_minutes": ("minutes", "time past the end of sessions"),
    "note_outside_minutes": ("minutes", "deferred notes done after hours"),
}
COUNT_OUTPUTS = ("booked", "arrived", "messages_in", "messages_to_provider", "backlog", "open_messages")


def lognormal(rng: np.random.Generator, median: float, sigma: float) -> float:
    "exp(log(median) + sigma*Z), written so that sigma = 0 gives exactly `median`"
    return median * math.exp(sigma * rng.standard_normal())


@dataclass(frozen=True)
class Block:
    "One template block of one provider on one date, in minutes after midnight"
    order: int  # position in the day, by start time
    kind: str  # 'patient' or 'desk'
    start_minute: int
    end_minute: int
    slot_minutes: int

    @property
    def minutes(self) -> int: return self.end_minute - self.start_minute

    @property
    def n_slots(self) -> int: return self.minutes // self.slot_minutes if self.kind == "patient" else 0


@dataclass(frozen=True)
class WorkItem:
    "A deferred note or an inbox message waiting for the provider"
    kind: str  # 'note' or a message type
    created: int  # day index
    minutes: float


def weekly_blocks(templates: pd.DataFrame) -> dict[tuple[str, int], list[Block]]:
    "(provider_id, weekday) -> that weekday's blocks in order of start"
    week = {}
    for (provider, weekday), rows in templates.sort_values("start_minute").groupby(["provider_id", "weekday"]):
        week[provider, int(weekday)] = [Block(i, r.kind, int(r.start_minute), int(r.end_minute), int(r.slot_minutes))
                                        for i, r in enumerate(rows.itertuples())]
    return week


class OracleRun:
    "One discrete-event simulation of a clinic for one parameter set"

    def __init__(self, clinic, theta: dict, dates: list[dt.date], rng: np.random.Generator, log: list | None):
        self.clinic, self.dates, self.rng, self.log = clinic, dates, rng, log
        self.theta = {name: float(value) for name, value in theta.items()}
        self.env = simpy.Environment()
        self.out = {name: np.zeros((len(clinic.providers), len(dates))) for name in OUTPUTS}
        self.panel = dict(zip(clinic.roster["provider_id"], clinic.roster["panel_size"]))
        self.week = weekly_blocks(clinic.templates)
        # each provider-day's pace (on the EHR minutes of the work arising that day) and after-hours budget factor
        day_rng = rng.spawn(1)[0]
        mean_one = lambda sigma: np.exp(sigma * day_rng.standard_normal((len(clinic.providers), len(dates))) - sigma ** 2 / 2)
        self.pace, self.cap_factor = mean_one(self.theta["day_pace_sigma"]), mean_one(self.theta["after_hours_sigma"])
        for p_index, provider in enumerate(clinic.providers):
            queue = simpy.PriorityStore(self.env)
            self.env.process(self.inbox(p_index, provider, queue))
            self.env.process(self.provider(p_index, provider, queue))

    def run(self):
        self.env.run()

    def midnight(self, day: int) -> float: return float(day * MINUTES_PER_DATE_FRAME)

    def trace(self, p_index: int, day: int, what: str, **detail):
        if self.log is not None:
            self.log.append(dict(provider=self.clinic.providers[p_index], date=self.dates[day],
                                 minute=self.env.now - self.midnight(day), event=what, **detail))

    def add(self, name: str, p_index: int, day: int, amount: float):
        self.out[name][p_index, day] += amount

    def blocks(self, provider: str, date: dt.date) -> list[Block]:
        "The provider's blocks on `date` by start time; none on holidays"
        if date in self.clinic.holidays: return []
        return self.week.get((provider, date.weekday()), [])

    # ---- inbox: every calendar date, at midnight
    def inbox(self, p_index: int, provider: str, queue: simpy.PriorityStore):
        th, rng = self.theta, self.rng
        k = th["msg_dispersion"]
        for day, date in enumerate(self.dates):
            yield self.env.timeout(self.midnight(day) - self.env.now)
            for t_index, mtype in enumerate(MESSAGE_TYPES):
                mu = self.panel[provider] * th[f"msg_rate_{mtype}"] / DAYS_PER_YEAR * WEEKDAY_FACTORS[date.weekday()]
                count = rng.poisson(rng.gamma(shape=k, scale=mu / k)) if mu > 0 else 0  # Gamma-Poisson = NegBin(mu, k)
                self.add("messages_in", p_index, day, count)
                for seq in range(count):
                    if rng.random() < th[f"delegation_{mtype}"]: continue  # handled by the team
                    item = WorkItem(mtype, day, self.pace[p_index, day] * lognormal(rng, th[f"msg_minutes_{mtype}"], th["msg_minutes_sigma"]))
                    queue.put(simpy.PriorityItem((1, day, t_index, seq), item))
                    self.trace(p_index, day, "queued", kind=mtype, minutes=item.minutes)
                    self.add("messages_to_provider", p_index, day, 1)

    # ---- the provider's days
    def provider(self, p_index: int, provider: str, queue: simpy.PriorityStore):
        env, rng = self.env, self.rng
        for day, date in enumerate(self.dates):
            if env.now > self.midnight(day):
                raise RuntimeError(f"oracle: {provider}'s work of {self.dates[day - 1]} ran to minute "
                                   f"{env.now - self.midnight(day - 1):.0f} of its frame of {MINUTES_PER_DATE_FRAME}")
            yield env.timeout(self.midnight(day) - env.now)
            blocks = self.blocks(provider, date)
            if blocks:
                for i, block in enumerate(blocks):  # one after the other: a late finish delays the next block
                    starts_run = i == 0 or blocks[i - 1].end_minute != block.start_minute
                    ends_run = i == len(blocks) - 1 or blocks[i + 1].start_minute != block.end_minute
                    yield from self.run_block(p_index, day, block, queue, starts_run, ends_run)
                yield from self.work_after_hours(p_index, day, queue)
            elif rng.random() < self.theta["weekend_work_prob"]:  # one draw per non-session provider-day
                yield env.timeout(NON_SESSION_WORK_START_MINUTE)
                yield from self.work_after_hours(p_index, day, queue)
            self.add("backlog", p_index, day, len(queue.items))
            self.add("backlog_minutes", p_index, day, sum(entry.item.minutes for entry in queue.items))
            self.add("open_messages", p_index, day, sum(entry.item.kind != "note" for entry in queue.items))

    def run_block(self, p_index: int, day: int, block: Block, queue: simpy.PriorityStore, starts_run: bool, ends_run: bool):
        """A block from its start, or from the end of the last visit if that is later; queue work in every gap.
        Adjacent blocks form one run: idle time at the end of one and the start of the next is one gap."""
        env = self.env
        start, end = self.midnight(day) + block.start_minute, self.midnight(day) + block.end_minute
        if starts_run and env.now < start: yield env.timeout(start - env.now)
        last_visit_end = None
        if block.kind == "patient":
            self.add("scheduled_minutes", p_index, day, block.minutes)
            for slot in range(block.n_slots):
                slot_start = start + slot * block.slot_minutes
                visit = self.attend(p_index, day, block, slot)
                if visit is None: continue
                if env.now < slot_start:  # waiting for the patient: a gap, of which a share is for the queue
                    yield from self.work_gap(p_index, day, queue, slot_start, self.theta["gap_work_share"])
                yield from self.see(p_index, day, block, slot, visit, queue)
                last_visit_end = env.now
        if ends_run and env.now < end:  # the rest of the run of blocks (all of a desk block is for the queue)
            yield from self.work_gap(p_index, day, queue, end, self.theta["gap_work_share"] if block.kind == "patient" else 1.0)
        if last_visit_end is not None:
            self.add("overrun_minutes", p_index, day, max(0.0, last_visit_end - end))

    def attend(self, p_index: int, day: int, block: Block, slot: int) -> dict | None:
        "Booking and attendance of one slot; the visit's times if the patient came"
        th, rng = self.theta, self.rng
        if not rng.random() < th["fill_rate"]: return None
        self.add("booked", p_index, day, 1)
        if rng.random() < th["no_show_prob"]: return None
        self.add("arrived", p_index, day, 1)
        face = lognormal(rng, th["visit_minutes_median"], th["visit_minutes_sigma"])
        pace = self.pace[p_index, day]
        note = pace * lognormal(rng, th["note_minutes_median"], th["note_minutes_sigma"])
        return dict(face=face, note_inroom=th["note_inroom_fraction"] * note,
                    note_deferred=(1 - th["note_inroom_fraction"]) * note,
                    chart=pace * th["chart_review_minutes"], order=pace * th["order_minutes"])

    def see(self, p_index: int, day: int, block: Block, slot: int, visit: dict, queue: simpy.PriorityStore):
        "The visit: face time, then the in-room EHR work; the rest of the note becomes a work item"
        self.trace(p_index, day, "visit starts", block=block.order, slot=slot)
        yield self.env.timeout(visit["face"] + visit["note_inroom"] + visit["chart"] + visit["order"])
        self.trace(p_index, day, "visit ends", block=block.order, slot=slot)
        self.add("face_minutes", p_index, day, visit["face"])
        self.add("note_minutes", p_index, day, visit["note_inroom"])
        self.add("chart_review_minutes", p_index, day, visit["chart"])
        self.add("order_minutes", p_index, day, visit["order"])
        queue.put(simpy.PriorityItem((0, day, block.order, slot), WorkItem("note", day, visit["note_deferred"])))
        self.trace(p_index, day, "queued", kind="note", minutes=visit["note_deferred"])

    # ---- working the queue
    def work_gap(self, p_index: int, day: int, queue: simpy.PriorityStore, until: float, share: float):
        "Whole items from the head of the queue while the next one fits in `share` of the time to `until`; then wait for `until`"
        self.trace(p_index, day, "gap", minutes=until - self.env.now)
        budget, used = share * (until - self.env.now), 0.0
        while queue.items and used + queue.items[0].item.minutes <= budget:
            entry = yield queue.get()
            yield self.env.timeout(entry.item.minutes)
            used += entry.item.minutes
            self.done(p_index, day, entry.item, "gap")
        yield self.env.timeout(until - self.env.now)

    def work_after_hours(self, p_index: int, day: int, queue: simpy.PriorityStore):
        "Items from the head of the queue, each started while the minutes used are below the budget"
        used, budget = 0.0, self.theta["after_hours_cap_minutes"] * self.cap_factor[p_index, day]
        self.trace(p_index, day, "after hours", budget=budget)
        while queue.items and used < budget:
            entry = yield queue.get()
            yield self.env.timeout(entry.item.minutes)
            used += entry.item.minutes
            self.done(p_index, day, entry.item, "after_hours")
            self.add("ehr_outside_minutes", p_index, day, entry.item.minutes)
            if entry.item.kind == "note": self.add("note_outside_minutes", p_index, day, entry.item.minutes)

    def done(self, p_index: int, day: int, item: WorkItem, phase: str):
        self.trace(p_index, day, "done", kind=item.kind, phase=phase, created=self.dates[item.created], minutes=item.minutes)
        self.add("note_minutes" if item.kind == "note" else "inbox_minutes", p_index, day, item.minutes)

    def dataset(self, seed) -> xr.Dataset:
        self.out["ehr_minutes"] = sum(self.out[name] for name in ("note_minutes", "chart_review_minutes", "order_minutes", "inbox_minutes"))
        data = {name: (("provider", "date"), values.astype(np.int64) if name in COUNT_OUTPUTS else values,
                       {"units": OUTPUTS[name][0], "long_name": OUTPUTS[name][1]})
                for name, values in self.out.items()}
        coords = {"provider": self.clinic.providers, "date": pd.DatetimeIndex(self.dates)}
        return xr.Dataset(data, coords, attrs=dict(
            title=f"SimPy oracle run of {self.clinic.name}", source="tests/oracle.py (SimPy reference implementation)",
            twinlab_version=twinlab.__version__, seed=seed if isinstance(seed, int) else "numpy Generator",
            created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")))


def simulate_oracle(clinic,  # twinlab.clinic.Clinic
                    theta: dict,  # parameter name -> scalar (every parameter of the contract)
                    start: dt.date | str | None = None,  # first date; None for clinic.start
                    days: int = 28,  # number of calendar dates simulated
                    seed: int | np.random.Generator | None = None,  # randomness
                    log: list | None = None,  # if a list, events are appended to it as dicts (for timelines)
                    ) -> xr.Dataset:
    "Day totals on (provider, date) from a SimPy discrete-event simulation of the contract's processes"
    seed = resolve_seed(seed)
    first = clinic.start if start is None else pd.Timestamp(start).date()
    dates = [first + dt.timedelta(days=i) for i in range(days)]
    run = OracleRun(clinic, theta, dates, as_generator(seed), log)
    run.run()
    return run.dataset(seed)
