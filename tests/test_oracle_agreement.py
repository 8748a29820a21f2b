"""The SimPy oracle (tests/oracle.py) checked by hand and against analytic distributions, and the
vectorised model (`twinlab.model.simulate`) checked against the oracle.

Both were written independently from the same contract (written out in `nbs/03_model.ipynb`, *The day,
provider by provider*). The
hand-computed timelines below therefore check the oracle *and* the contract's arithmetic; the
agreement tests check that the model's day totals have the oracle's distribution.
"""
import dataclasses
import datetime as dt
import itertools
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest
import scipy.stats
import xarray as xr

from tests.oracle import OUTPUTS, simulate_oracle
from twinlab.clinic import Clinic
from twinlab.model import MESSAGE_TYPES, WEEKDAY_FACTORS, simulate
from twinlab.params import default_space

CLINIC = Clinic.example()
MONDAY = dt.date(2026, 1, 5)

# Every stochastic part switched off: each visit lasts 15 face + 0.5*10 note + 3 chart review + 2 orders
# = 25 min and leaves a deferred note of 0.5*10 = 5 min; no messages.
DETERMINISTIC = dict(
    fill_rate=1.0, no_show_prob=0.0, visit_minutes_median=15.0, visit_minutes_sigma=0.0,
    note_minutes_median=10.0, note_minutes_sigma=0.0, note_inroom_fraction=0.5,
    chart_review_minutes=3.0, order_minutes=2.0,
    **{f"msg_rate_{t}": 0.0 for t in MESSAGE_TYPES}, msg_dispersion=1.0,
    **{f"msg_minutes_{t}": 1.0 for t in MESSAGE_TYPES}, msg_minutes_sigma=0.0,
    **{f"delegation_{t}": 0.0 for t in MESSAGE_TYPES},
    after_hours_cap_minutes=120.0, weekend_work_prob=0.0, gap_work_share=1.0, day_pace_sigma=0.0, after_hours_sigma=0.0)

# The centre (prior medians) of the twin's parameter space, delegation centred on the example clinic's settings.
TYPICAL = default_space(CLINIC).centre()


def minute_of(hhmm: str) -> int: return int(hhmm[:2]) * 60 + int(hhmm[3:])


def clinic_of(*blocks, holidays=()) -> Clinic:
    "The example clinic cut down to one provider, P-1, with blocks given as (weekday, start, end, slot_minutes, kind)"
    t = pd.DataFrame(blocks, columns=["weekday", "start", "end", "slot_minutes", "kind"]).assign(provider_id="P-1")
    t = t.assign(start_minute=t["start"].map(minute_of), end_minute=t["end"].map(minute_of))
    roster = pd.DataFrame({"provider_id": ["P-1"], "role": ["MD"], "clinical_fte": [1.0], "panel_size": [1000]})
    return dataclasses.replace(CLINIC, roster=roster, templates=t, holidays=frozenset(holidays), start=MONDAY)


def totals(ds: xr.Dataset, day: int) -> dict:
    "Day totals of the first provider on the day-th date, as plain numbers"
    return {name: ds[name].values[0, day].item() for name in OUTPUTS}


def expected(**given) -> dict:
    "A day's totals: zero unless given; ehr_minutes is derived as in the contract"
    out = dict.fromkeys(OUTPUTS, 0) | given
    out["ehr_minutes"] = out["note_minutes"] + out["chart_review_minutes"] + out["order_minutes"] + out["inbox_minutes"]
    return out


def visit_times(log: list, date: dt.date) -> list[tuple[float, float]]:
    "(start, end) minute of each visit on `date`, in order"
    starts = [e["minute"] for e in log if e["date"] == date and e["event"] == "visit starts"]
    ends = [e["minute"] for e in log if e["date"] == date and e["event"] == "visit ends"]
    return list(zip(starts, ends))


# ---------------------------------------------------------------- the oracle on hand-computed timelines

ONE_HOUR = (0, "08:00", "09:00", 20, "patient")  # Monday, three 20-min slots
TIMELINES = {  # name: (clinic, theta, days) of each hand-computed case below
    "visit_chain": (clinic_of(ONE_HOUR, (0, "10:00", "11:30", 30, "patient"), (0, "12:00", "12:20", 20, "desk")), DETERMINISTIC, 1),
    "exact_fit": (clinic_of((0, "08:00", "09:30", 30, "patient")), DETERMINISTIC, 1),
    "half_of_each_gap": (clinic_of((0, "08:00", "09:30", 30, "patient"), (0, "10:00", "10:20", 20, "desk")),
                         DETERMINISTIC | {"gap_work_share": 0.5}, 1),
    "late_into_next_block": (clinic_of(ONE_HOUR, (0, "09:00", "10:00", 20, "patient")), DETERMINISTIC, 1),
    "gaps_are_not_pooled": (clinic_of((0, "08:00", "09:30", 30, "patient")),
                            DETERMINISTIC | {"visit_minutes_median": 12.0, "note_minutes_median": 16.0}, 1),
    "adjacent_blocks_one_gap": (clinic_of((0, "08:00", "08:30", 30, "patient"), (0, "08:30", "08:35", 5, "desk")),
                                DETERMINISTIC | {"visit_minutes_median": 12.0, "note_minutes_median": 16.0}, 1),
    "budget_backlog_holiday": (clinic_of(ONE_HOUR, (2, "08:00", "09:00", 20, "patient"), (3, "08:00", "09:40", 20, "patient"),
                                         (3, "10:10", "10:17", 20, "desk"), holidays=[MONDAY + dt.timedelta(days=2)]),
                               DETERMINISTIC | {"after_hours_cap_minutes": 7.0}, 4),
    "non_session_budget_7": (clinic_of(ONE_HOUR), DETERMINISTIC | {"after_hours_cap_minutes": 7.0, "weekend_work_prob": 1.0}, 2),
    "non_session_budget_0": (clinic_of(ONE_HOUR), DETERMINISTIC | {"after_hours_cap_minutes": 0.0, "weekend_work_prob": 1.0}, 2),
    "no_bookings": (clinic_of(ONE_HOUR), DETERMINISTIC | {"fill_rate": 0.0}, 1),
    "all_no_shows": (clinic_of(ONE_HOUR), DETERMINISTIC | {"no_show_prob": 1.0}, 1),
    "past_midnight": (clinic_of((0, "22:00", "23:40", 20, "patient"), (1, "08:00", "08:20", 20, "patient")),
                      DETERMINISTIC | {"after_hours_cap_minutes": 0.0}, 2),
}


def run_timeline(name: str) -> tuple[xr.Dataset, list]:
    "The oracle's day totals and event log of a hand-computed case"
    clinic, theta, days = TIMELINES[name]
    log = []
    return simulate_oracle(clinic, theta, MONDAY, days, seed=0, log=log), log


def test_visit_chain_running_late_and_the_gaps():
    # Block 08:00-09:00 in 20-min slots: visits of 25 min run late: 480-505, 505-530, 530-555 (overrun 15, no gap).
    # Block 10:00-11:30 in 30-min slots: 600-625, 630-655, 660-685 with gaps of 5 at 625, 655 and 685, each taking one
    # of the first block's 5-min notes.  Desk 12:00-12:20: a gap of 20 takes the three notes of the second block.
    ds, log = run_timeline("visit_chain")
    assert visit_times(log, MONDAY) == [(480, 505), (505, 530), (530, 555), (600, 625), (630, 655), (660, 685)]
    assert [e["minutes"] for e in log if e["event"] == "gap"] == [5, 5, 5, 20]
    assert [e["phase"] for e in log if e["event"] == "done"] == ["gap"] * 6
    assert totals(ds, 0) == expected(scheduled_minutes=150, booked=6, arrived=6, face_minutes=90,
                                     note_minutes=6 * 5 + 6 * 5, chart_review_minutes=18, order_minutes=12, overrun_minutes=15)


def test_an_item_that_fills_a_gap_exactly_fits():
    # 08:00-09:30 in 30-min slots: visits 480-505, 510-535, 540-565, gaps of 5 after each, each taking its 5-min note.
    ds, log = run_timeline("exact_fit")
    assert [e["phase"] for e in log if e["event"] == "done"] == ["gap"] * 3
    assert totals(ds, 0)["ehr_outside_minutes"] == 0


def test_only_a_share_of_a_patient_gap_is_for_the_queue():
    # As `exact_fit`, with half of each gap in a patient block for the queue: the three 5-min gaps (two before a
    # patient, one at the end of the block) have 2.5 min each, so no note fits; the desk block 10:00-10:20 is all for
    # the queue and takes the three notes.
    ds, log = run_timeline("half_of_each_gap")
    assert [e["minutes"] for e in log if e["event"] == "gap"] == [5, 5, 5, 20]
    assert [e["event"] for e in log if e["event"] in ("gap", "done")] == ["gap"] * 4 + ["done"] * 3
    assert totals(ds, 0)["ehr_outside_minutes"] == 0 and totals(ds, 0)["note_minutes"] == 3 * 5 + 3 * 5


def test_lateness_carries_into_the_next_block():
    # The 08:00 block ends its last visit at 09:15, so the 09:00 block's first visit starts at 555, not 540, and
    # its last ends at 630: each block's last visit past its end, 15 + 30.  Splitting a block into two adjacent
    # ones therefore changes nothing but where overruns are counted (the model's notebook checks that).
    ds, log = run_timeline("late_into_next_block")
    assert visit_times(log, MONDAY)[2:4] == [(530, 555), (555, 580)]
    assert totals(ds, 0)["overrun_minutes"] == 15 + 30


def test_gaps_are_used_one_at_a_time():
    # 08:00-09:30 in 30-min slots; visits of 12 + 8 + 3 + 2 = 25 min each leave an 8-min note and a 5-min gap.
    # Pooled, the 15 idle minutes would take one note; but no single gap can: all three are done after hours.
    ds, log = run_timeline("gaps_are_not_pooled")
    assert [e["minutes"] for e in log if e["event"] == "gap"] == [5, 5, 5]
    assert [e["phase"] for e in log if e["event"] == "done"] == ["after_hours"] * 3
    assert totals(ds, 0)["note_outside_minutes"] == 24 == totals(ds, 0)["ehr_outside_minutes"]


def test_adjacent_blocks_make_one_gap():
    # A visit of 25 min in an 08:00-08:30 block, then a desk block 08:30-08:35: the idle time 505-515 is one gap of
    # 10 min that takes the 8-min note (two gaps of 5 could not).
    ds, log = run_timeline("adjacent_blocks_one_gap")
    assert [e["minutes"] for e in log if e["event"] == "gap"] == [10]
    assert [e["phase"] for e in log if e["event"] == "done"] == ["gap"] and totals(ds, 0)["ehr_outside_minutes"] == 0


def test_whole_items_after_hours_budget_backlog_and_holidays():
    # Mon: one 08:00-09:00 block: 3 visits, idle 0, three 5-min notes. Budget 7: the first note is started at
    #      0 < 7 used, the second at 5 < 7, then 10 >= 7 stops: 10 min after hours, 1 note (5 min) left.
    # Tue: no template, weekend_work_prob 0: nothing done.  Wed: a holiday on a template weekday: nothing done.
    # Thu: 08:00-09:40 (5 visits, overrun 25) and a 7-min desk block at 10:10: the gap takes Monday's note (5), the
    #      next note (5) does not fit in the 2 min left; after hours two notes (10 min); 3 notes (15 min) left.
    ds, log = run_timeline("budget_backlog_holiday")
    monday = expected(scheduled_minutes=60, booked=3, arrived=3, face_minutes=45, note_minutes=15 + 10,
                      chart_review_minutes=9, order_minutes=6, ehr_outside_minutes=10, note_outside_minutes=10, backlog=1, backlog_minutes=5,
                      overrun_minutes=15)
    idle_day = expected(backlog=1, backlog_minutes=5)
    thursday = expected(scheduled_minutes=100, booked=5, arrived=5, face_minutes=75, note_minutes=25 + 15,
                        chart_review_minutes=15, order_minutes=10, ehr_outside_minutes=10, note_outside_minutes=10, backlog=3,
                        backlog_minutes=15, overrun_minutes=25)
    assert [totals(ds, d) for d in range(4)] == [monday, idle_day, idle_day, thursday]
    thursday_done = [(e["phase"], e["created"]) for e in log if e["event"] == "done" and e["date"] == MONDAY + dt.timedelta(days=3)]
    assert thursday_done == [("gap", MONDAY)] + [("after_hours", MONDAY + dt.timedelta(days=3))] * 2


@pytest.mark.parametrize("name, left_monday, done_tuesday", [("non_session_budget_7", 5, 5), ("non_session_budget_0", 15, 0)])
def test_work_on_a_non_session_day(name, left_monday, done_tuesday):
    # weekend_work_prob 1: on Tuesday (no template) the provider works the queue with the after-hours rule.
    # Budget 7 leaves one of Monday's three notes (as above) and clears it on Tuesday; budget 0 means no
    # after-hours work on any day.
    ds, _ = run_timeline(name)
    assert totals(ds, 0)["backlog_minutes"] == left_monday
    assert totals(ds, 1) == expected(note_minutes=done_tuesday, ehr_outside_minutes=done_tuesday, note_outside_minutes=done_tuesday,
                                     backlog=(left_monday - done_tuesday) // 5, backlog_minutes=left_monday - done_tuesday)


@pytest.mark.parametrize("name, booked", [("no_bookings", 0), ("all_no_shows", 3)])
def test_an_empty_session_is_all_idle(name, booked):
    ds, log = run_timeline(name)
    assert totals(ds, 0) == expected(scheduled_minutes=60, booked=booked)
    assert [e["minutes"] for e in log if e["event"] == "gap"] == [60]


def test_work_past_midnight_counts_for_its_day_and_delays_nothing():
    # Monday 22:00-23:40: five visits end at minute 1445 (00:05 on Tuesday) and count for Monday; Tuesday's
    # 08:00 session still starts on time. No after-hours work: all 5 + 1 notes are left at Tuesday's end.
    ds, log = run_timeline("past_midnight")
    assert visit_times(log, MONDAY)[-1] == (1420, 1445) and visit_times(log, MONDAY + dt.timedelta(days=1)) == [(480, 505)]
    assert totals(ds, 0)["overrun_minutes"] == 25 and totals(ds, 1)["backlog"] == 5 + 1


@pytest.mark.parametrize("name", list(TIMELINES))
def test_model_gives_the_hand_computed_totals(name):
    # Nothing is random in these cases, so the model must match the oracle's (hand-checked) totals exactly.
    clinic, theta, days = TIMELINES[name]
    model = simulate(clinic, theta, MONDAY, days, seed=0)
    model = model.isel(draw=0) if "draw" in model.dims else model
    oracle, _ = run_timeline(name)
    for v in OUTPUTS:
        np.testing.assert_allclose(model[v].transpose("provider", "date").values, oracle[v].values, rtol=1e-12, atol=1e-9, err_msg=v)


# ---------------------------------------------------------------- the oracle's random parts

def test_same_seed_same_result_and_the_schema():
    a, b = (simulate_oracle(CLINIC, TYPICAL, None, 7, seed=5) for _ in range(2))
    xr.testing.assert_identical(a.drop_attrs(), b.drop_attrs())
    assert not simulate_oracle(CLINIC, TYPICAL, None, 7, seed=6)["ehr_minutes"].equals(a["ehr_minutes"])
    assert list(a.dims) == ["provider", "date"] and list(a.provider.values) == CLINIC.providers
    assert all({"units", "long_name"} <= set(a[v].attrs) for v in a.data_vars)
    assert {"title", "source", "twinlab_version", "seed", "created"} <= set(a.attrs) and a.attrs["seed"] == 5


def inbox_only(days: int, seed: int, **theta) -> xr.Dataset:
    "An oracle run of one provider (panel 1000) without sessions who clears the whole inbox every day"
    return simulate_oracle(clinic_of(), DETERMINISTIC | {"after_hours_cap_minutes": 1e9, "weekend_work_prob": 1.0} | theta,
                           MONDAY, days, seed=seed)


def test_message_counts_are_negative_binomial_with_weekday_factors():
    # 1,400 dates = 200 of each weekday; per weekday a chi-square goodness-of-fit test against
    # NegBin(mean mu, dispersion k) (scipy's nbinom(n=k, p=k/(k+mu))), bins merged to expected counts >= 5.
    # Seven tests at a family error rate of 1 %: each must have p > 0.01/7.
    k, rate = 2.0, 3.65  # mu = 1000 * 3.65 / 365 = 10 messages a day times the weekday factor
    ds = inbox_only(1400, seed=11, msg_rate_patient=rate, msg_dispersion=k)
    counts = ds["messages_in"].values[0]
    for weekday in range(7):
        law = scipy.stats.nbinom(n=k, p=k / (k + 1000 * rate / 365 * WEEKDAY_FACTORS[weekday]))
        p = chi_square_p(counts[weekday::7], law)
        assert p > 0.01 / 7, (weekday, p)


def chi_square_p(observed: np.ndarray, law) -> float:
    "p-value of Pearson's goodness-of-fit test of integer `observed` against the discrete `law`, bins of expected count >= 5"
    n, edges = len(observed), [0]  # bins [edges[i], edges[i+1]); the last one is open
    expected_in = lambda lo, hi: (law.cdf(hi - 1) - law.cdf(lo - 1)) * n
    while law.sf(edges[-1] - 1) * n >= 10:
        upper = edges[-1] + 1
        while expected_in(edges[-1], upper) < 5: upper += 1
        edges.append(upper)
    if law.sf(edges[-1] - 1) * n < 5: edges.pop()  # a thin tail joins the bin before it
    expected = [expected_in(lo, hi) for lo, hi in zip(edges, edges[1:])] + [law.sf(edges[-1] - 1) * n]
    counts = np.histogram(observed, bins=edges + [np.inf])[0]
    return scipy.stats.chisquare(counts, expected).pvalue


def test_message_types_delegation_and_minutes():
    # Four types with distinct rates, delegation shares and minutes; each is checked in the mean, within
    # 4 standard errors (days are independent here: the inbox is cleared every day).
    theta = dict(msg_rate_patient=3.65, msg_rate_result=7.3, msg_rate_rx=1.825, msg_rate_other=0.0,
                 delegation_patient=0.0, delegation_result=0.5, delegation_rx=1.0, delegation_other=0.0,
                 msg_minutes_patient=2.0, msg_minutes_result=0.5, msg_minutes_rx=9.0, msg_minutes_other=9.0,
                 msg_minutes_sigma=0.5, msg_dispersion=4.0)
    ds = inbox_only(700, seed=12, **theta)
    factor = np.array(WEEKDAY_FACTORS)[ds.date.dt.dayofweek.values]
    mu = {t: 1000 * theta[f"msg_rate_{t}"] / 365 * factor for t in MESSAGE_TYPES}
    to_provider = {t: mu[t] * (1 - theta[f"delegation_{t}"]) for t in MESSAGE_TYPES}
    mean_minutes = {t: theta[f"msg_minutes_{t}"] * np.exp(theta["msg_minutes_sigma"] ** 2 / 2) for t in MESSAGE_TYPES}
    analytic = {"messages_in": sum(mu.values()), "messages_to_provider": sum(to_provider.values()),
                "inbox_minutes": sum(to_provider[t] * mean_minutes[t] for t in MESSAGE_TYPES)}
    for name, mean_per_date in analytic.items():
        x = ds[name].values[0]
        assert abs(x.mean() - mean_per_date.mean()) <= 4 * x.std(ddof=1) / np.sqrt(len(x)), name
    assert (ds["backlog"] == 0).all() and (ds["ehr_outside_minutes"] == ds["inbox_minutes"]).all()


def test_queue_rules_hold_on_a_random_month():
    # On a typical month of the example clinic, from the event log: (1) within each gap and within the after-hours
    # work (between which no visit adds a note), items are done in queue order (notes before messages, older days
    # first, message types in order); (2) each gap takes only whole items that fit in it; (3) after-hours items
    # are each started below the day's budget, and work stops only at the budget or an empty queue; (4) minutes
    # are conserved: queued = done + left in the backlog.
    log = []
    ds = simulate_oracle(CLINIC, TYPICAL, None, 28, seed=3, log=log)
    days = defaultdict(list)
    for e in log: days[e["provider"], e["date"]].append(e)
    rank = {"note": (0, 0)} | {t: (1, i) for i, t in enumerate(MESSAGE_TYPES)}
    for (provider, date), events in days.items():
        done = [e for e in events if e["event"] == "done"]
        segments, gaps_so_far = defaultdict(list), 0   # items by the gap they were done in (after-hours items: one segment)
        for e in events:   # in the order they happened
            gaps_so_far += e["event"] == "gap"
            if e["event"] == "done": segments[gaps_so_far, e["phase"]].append(e)
        for segment in segments.values():
            keys = [(rank[e["kind"]][0], e["created"], rank[e["kind"]][1]) for e in segment]
            assert keys == sorted(keys), (provider, date)
        gaps = []  # [gap minutes, minutes of the items done in it] in order
        for e in events:
            if e["event"] == "gap": gaps.append([e["minutes"], 0.0])
            if e["event"] == "done" and e["phase"] == "gap": gaps[-1][1] += e["minutes"]
        assert all(used <= minutes + 1e-9 for minutes, used in gaps), (provider, date)
        after = [e["minutes"] for e in done if e["phase"] == "after_hours"]
        budget = next((e["budget"] for e in events if e["event"] == "after hours"), 0.0)   # the day's budget
        left = ds["backlog"].sel(provider=provider, date=pd.Timestamp(date)).item()
        if after: assert sum(after[:-1]) < budget
        if left and (gaps or after): assert sum(after) >= budget
    for provider in CLINIC.providers:
        queued = sum(e["minutes"] for e in log if e["provider"] == provider and e["event"] == "queued")
        worked = sum(e["minutes"] for e in log if e["provider"] == provider and e["event"] == "done")
        assert queued == pytest.approx(worked + ds["backlog_minutes"].sel(provider=provider).values[-1])


# ---------------------------------------------------------------- the model against the oracle

DAYS = 28  # four weeks from Monday 2026-01-05, including the example clinic's holiday on 2026-01-19
ORACLE_RUNS = 40  # oracle replicates per case (seeds 1000, 1001, ...); the cost of this file
MODEL_DRAWS = 400  # model replicates per case: copies of theta on `draw`, one call
HOLIDAY_WEEK = frozenset(MONDAY + dt.timedelta(days=7 + i) for i in range(5))  # Mon 12 - Fri 16 January 2026
CASES = {
    "typical": (CLINIC, TYPICAL),
    "no_no_shows": (CLINIC, TYPICAL | {"no_show_prob": 0.0}),
    "no_messages": (CLINIC, TYPICAL | {f"msg_rate_{t}": 0.0 for t in MESSAGE_TYPES}),
    "all_delegated": (CLINIC, TYPICAL | {f"delegation_{t}": 1.0 for t in MESSAGE_TYPES}),
    "no_after_hours": (CLINIC, TYPICAL | {"after_hours_cap_minutes": 0.0}),
    "holiday_week": (dataclasses.replace(CLINIC, holidays=CLINIC.holidays | HOLIDAY_WEEK), TYPICAL),
}
KS_OUTPUTS = ("ehr_minutes", "inbox_minutes", "ehr_outside_minutes", "overrun_minutes", "backlog", "messages_in")
MOMENTS = (1, 2)  # means of each daily output and of its square: the square catches a wrong spread
# (e.g. the messages' dispersion), which the mean cannot see and a KS test on a mixture of providers and
# weekdays sees only weakly.
# Error rates: the agreement tests may raise a false alarm with probability at most 1 %, split evenly
# between the moment checks and the KS tests and, within each, by Bonferroni over its tests. For the
# moments that is z = Phi^-1(1 - 0.005/(2*180)) = 4.19 standard errors (180 = 6 cases x 15 outputs x
# 2 moments): the "4 SE" rule, with the normal approximation justified by the hundreds of independent
# (replicate, provider) units behind each mean. For the KS tests it is p >= 0.005/36 = 1.4e-4 (36 = 6 cases
# x 6 outputs); the many tied values (zeros on days off) only make ks_2samp's p-values conservative.
FAMILY_ALPHA = 0.005
MEAN_Z = scipy.stats.norm.isf(FAMILY_ALPHA / (2 * len(CASES) * len(OUTPUTS) * len(MOMENTS)))
KS_MIN_P = FAMILY_ALPHA / (len(CASES) * len(KS_OUTPUTS))


def model_runs(clinic: Clinic, theta: dict) -> xr.Dataset:
    draws = xr.Dataset({name: ("draw", np.full(MODEL_DRAWS, value, dtype=float)) for name, value in theta.items()})
    return simulate(clinic, draws, MONDAY, DAYS, seed=2026).transpose("draw", "provider", "date")


def oracle_runs(clinic: Clinic, theta: dict) -> xr.Dataset:
    runs = [simulate_oracle(clinic, theta, MONDAY, DAYS, seed=1000 + r) for r in range(ORACLE_RUNS)]
    return xr.concat(runs, dim="draw", combine_attrs="drop_conflicts")  # drops the per-run seed and time


def mean_and_se(x: np.ndarray) -> tuple[float, float]:
    """Mean over (draw, provider, date) and its standard error. Replicates are independent, and so are
    providers within a replicate; dates are not (the backlog carries over). So the unit is a provider's
    whole period in one replicate: SE^2 = sum over providers of var_draw(period mean) / (draws * providers^2)."""
    per_unit = x.mean(axis=2)
    n_draws, n_providers = per_unit.shape
    return per_unit.mean(), np.sqrt(per_unit.var(axis=0, ddof=1).sum() / (n_draws * n_providers ** 2))


def one_date_per_unit(x: np.ndarray, seed: int) -> np.ndarray:
    """One value per (draw, provider), at a date drawn at random: independent observations, as the KS test
    assumes (values of one provider on different dates are correlated through the backlog). Both samples
    then hold equally many values of each provider, so they share one distribution under the null."""
    dates = np.random.default_rng(seed).integers(x.shape[2], size=x.shape[:2])
    return np.take_along_axis(x, dates[..., None], axis=2).ravel()


@pytest.mark.parametrize("case", list(CASES))
def test_model_agrees_with_oracle(case):
    clinic, theta = CASES[case]
    model, oracle = model_runs(clinic, theta), oracle_runs(clinic, theta)
    assert set(OUTPUTS) <= set(model.data_vars), f"model lacks {set(OUTPUTS) - set(model.data_vars)}"
    assert {v: model[v].attrs.get("units") for v in OUTPUTS} == {v: oracle[v].attrs["units"] for v in OUTPUTS}
    assert (model.provider.values == oracle.provider.values).all() and (model.date.values == oracle.date.values).all()
    problems = []
    for name, power in itertools.product(OUTPUTS, MOMENTS):
        m_mean, m_se = mean_and_se(model[name].values.astype(float) ** power)
        o_mean, o_se = mean_and_se(oracle[name].values.astype(float) ** power)
        tolerance = MEAN_Z * np.hypot(m_se, o_se) + 1e-9 * max(1.0, abs(o_mean))
        if abs(m_mean - o_mean) > tolerance:
            problems.append(f"{name}^{power}: mean model {m_mean:.4g} vs oracle {o_mean:.4g}, |diff| "
                            f"{abs(m_mean - o_mean):.3g} > {MEAN_Z:.2f} SE = {tolerance:.3g}")
    for name in KS_OUTPUTS:
        p = scipy.stats.ks_2samp(one_date_per_unit(model[name].values, 1),
                                 one_date_per_unit(oracle[name].values, 2)).pvalue
        if p < KS_MIN_P: problems.append(f"{name}: KS p = {p:.2g} < {KS_MIN_P:.2g}")
    assert not problems, f"{case}:\n" + "\n".join(problems)
