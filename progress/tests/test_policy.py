"""WritePolicy with a fake clock: every ordering rule and throttle, no threads, no sleeps."""

from __future__ import annotations

import pytest

from progress.runtime.policy import Step, WritePolicy, Written, sweep_interval

SETTINGS = {
    "DB_INTERVAL": 2.0,
    "BROADCAST_INTERVAL": 0.5,
    "HEARTBEAT_INTERVAL": 10.0,
    "CANCEL_POLL_INTERVAL": 1.0,
    "STALL_TIMEOUT": 60.0,
}
RUN = 7


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def policy(clock):
    return WritePolicy(clock=clock, setting=SETTINGS.__getitem__)


def write(policy, run_id=RUN, outcome=Written.SAVED, *, final=False):
    """What the writer does for a WRITE step: start it, then report how it ended."""
    policy.write_started(run_id)
    return policy.written(run_id, outcome, final=final)


def test_a_live_state_is_broadcast_before_it_is_written(policy):
    assert policy.state_arrived(RUN, final=False, must_write=False) == [Step.BROADCAST, Step.WRITE]
    assert write(policy) == []  # already broadcast: nothing after the write


def test_a_final_state_is_written_before_it_is_broadcast(policy):
    assert policy.state_arrived(RUN, final=True, must_write=True) == [Step.WRITE]
    assert write(policy, final=True) == [Step.BROADCAST]


def test_a_final_state_whose_write_failed_is_not_broadcast(policy):
    policy.state_arrived(RUN, final=True, must_write=True)
    assert write(policy, outcome=Written.FAILED, final=True) == []
    assert RUN in policy.dirty


def test_a_failed_final_write_is_retried_after_db_interval_then_broadcast(policy, clock):
    policy.state_arrived(RUN, final=True, must_write=True)
    write(policy, outcome=Written.FAILED, final=True)
    clock.advance(1.9)
    assert policy.due().writes == []
    clock.advance(0.1)
    assert policy.due().writes == [RUN]
    assert write(policy, final=True) == [Step.BROADCAST]
    assert not policy.dirty


def test_a_final_state_of_a_run_finished_elsewhere_is_never_broadcast(policy):
    policy.state_arrived(RUN, final=True, must_write=True)
    assert write(policy, outcome=Written.GONE, final=True) == []
    assert not policy.dirty


def test_live_writes_are_throttled_to_db_interval(policy, clock):
    policy.state_arrived(RUN, final=False, must_write=True)
    write(policy)
    clock.advance(0.5)
    assert policy.state_arrived(RUN, final=False, must_write=False) == [Step.BROADCAST]
    assert RUN in policy.dirty
    clock.advance(1.0)
    assert policy.due().writes == []
    clock.advance(0.5)
    assert policy.due().writes == [RUN]
    assert write(policy) == []  # a live state was broadcast when it arrived
    assert not policy.dirty


@pytest.mark.parametrize(
    ("after", "final", "must_write", "steps"),
    [
        (0.1, False, True, [Step.BROADCAST, Step.WRITE]),  # force=True: written at once
        (0.1, True, True, [Step.WRITE]),  # a final state: no throttle
        (2.0, False, False, [Step.BROADCAST, Step.WRITE]),  # DB_INTERVAL has passed
    ],
    ids=["forced", "final", "after-db-interval"],
)
def test_states_that_skip_the_throttle_are_written_at_once(
    policy, clock, after, final, must_write, steps
):
    policy.state_arrived(RUN, final=False, must_write=True)
    write(policy)
    clock.advance(after)
    assert policy.state_arrived(RUN, final=final, must_write=must_write) == steps


def test_the_throttle_is_per_run(policy, clock):
    policy.state_arrived(RUN, final=False, must_write=True)
    write(policy)
    steps = policy.state_arrived(RUN + 1, final=False, must_write=False)
    assert steps == [Step.BROADCAST, Step.WRITE]


def test_a_failed_live_write_waits_db_interval(policy, clock):
    policy.state_arrived(RUN, final=False, must_write=True)
    write(policy, outcome=Written.FAILED)
    assert policy.seconds_until_due() == pytest.approx(2.0)
    clock.advance(2.0)
    assert policy.due().writes == [RUN]


def test_nothing_is_due_and_the_writer_sleeps_while_no_run_is_live(policy, clock):
    clock.advance(1000)
    assert policy.due() == policy.due().__class__()
    assert policy.seconds_until_due() is None


def test_the_first_run_of_a_process_gets_every_duty_at_once(policy):
    policy.run_started(RUN)
    assert policy.seconds_until_due() == 0.0
    duties = policy.due()
    assert duties.drain_logs and duties.poll_cancels and duties.beat


def test_a_later_run_gets_its_duties_within_one_interval(policy, clock):
    policy.run_started(RUN)
    policy.due()
    clock.advance(100.0)  # long idle: the next duties would be due at once
    policy.run_started(RUN + 1)
    assert policy.seconds_until_due() == 0.0
    policy.due()
    clock.advance(0.5)
    duties = policy.due()
    assert duties.drain_logs and not duties.poll_cancels and not duties.beat
    clock.advance(0.5)
    assert policy.due().poll_cancels
    clock.advance(9.0)
    assert policy.due().beat


@pytest.mark.parametrize(("duty", "interval"), [("poll_cancels", 1.0), ("beat", 10.0)])
def test_cancel_polls_and_heartbeats_come_every_interval(policy, clock, duty, interval):
    policy.run_started(RUN)
    policy.due()
    clock.advance(interval)
    assert getattr(policy.due(), duty)
    clock.advance(interval - 0.1)
    assert not getattr(policy.due(), duty)
    clock.advance(0.1)
    assert getattr(policy.due(), duty)


def test_log_lines_are_drained_once_per_broadcast_interval_and_at_most_every_tenth(clock):
    fast = WritePolicy(clock=clock, setting={**SETTINGS, "BROADCAST_INTERVAL": 0.0}.__getitem__)
    fast.run_started(RUN)
    fast.due()
    clock.advance(0.09)
    assert not fast.due().drain_logs
    clock.advance(0.01)
    assert fast.due().drain_logs


def test_stall_sweeps_come_every_quarter_of_stall_timeout_while_runs_are_live(policy, clock):
    assert sweep_interval(SETTINGS.__getitem__) == 15.0
    clock.advance(15.0)
    assert not policy.due().sweep  # no live run here: other processes' runs are theirs
    policy.run_started(RUN)
    assert policy.due().sweep
    clock.advance(14.9)
    assert not policy.due().sweep
    clock.advance(0.1)
    assert policy.due().sweep


def test_the_sweep_interval_is_at_least_half_a_second():
    assert sweep_interval({"STALL_TIMEOUT": 0.1}.__getitem__) == 0.5


def test_an_ended_run_gets_no_more_duties(policy, clock):
    policy.run_started(RUN)
    policy.run_ended(RUN)
    clock.advance(100)
    assert policy.due() == policy.due().__class__()
    assert policy.seconds_until_due() is None


def test_a_trailing_publish_respects_the_broadcast_throttle(policy, clock):
    published_at = clock()
    clock.advance(0.4)
    assert not policy.trailing_due(published_at)
    clock.advance(0.1)
    assert policy.trailing_due(published_at)


def test_the_writer_sleeps_until_the_earliest_dirty_write(policy, clock):
    policy.run_started(RUN)
    policy.due()  # the first duties, at once
    clock.advance(0.5)
    policy.due()  # log drain done; the cancel poll is next, at +0.5
    policy.state_arrived(RUN, final=False, must_write=True)
    write(policy)
    clock.advance(0.2)
    policy.state_arrived(RUN, final=False, must_write=False)
    assert policy.seconds_until_due() == pytest.approx(0.3)  # the cancel poll and log drain
    clock.advance(0.3)
    policy.due()
    assert policy.seconds_until_due() == pytest.approx(0.5)  # the next log drain
    policy.run_ended(RUN)
    assert policy.seconds_until_due() == pytest.approx(1.5)  # only the dirty write is left
