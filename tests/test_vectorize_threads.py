"""The refinement's thread policy: more threads only while the other cores are idle."""

from __future__ import annotations

import pytest
import torch

from clipvg.vectorize import threads as threads_module
from clipvg.vectorize.threads import BACK_OFF, StepThreads


@pytest.fixture
def cores(monkeypatch):
    monkeypatch.setattr(threads_module.os, "cpu_count", lambda: 2)


def run_step(policy: StepThreads, monkeypatch, *, seconds: float, others: float) -> int:
    """One step of ``seconds`` wall while other processes use ``others`` cores."""
    clock = {"wall": 0.0, "busy": 100.0}
    monkeypatch.setattr(threads_module.time, "perf_counter", lambda: clock["wall"])
    monkeypatch.setattr(threads_module.time, "process_time", lambda: 0.0)
    monkeypatch.setattr(threads_module, "_busy_seconds", lambda: clock["busy"])
    with policy.step() as n:
        assert torch.get_num_threads() == n
        clock["wall"] += seconds
        clock["busy"] += others * seconds
    return n


def test_one_thread_allowed_gives_one_thread_whatever_the_load(cores, monkeypatch):
    policy = StepThreads(1)
    counts = [run_step(policy, monkeypatch, seconds=1.0, others=0.0) for _ in range(4)]
    assert counts == [1, 1, 1, 1]


def test_idle_cores_give_the_next_steps_more_threads(cores, monkeypatch):
    before = torch.get_num_threads()
    policy = StepThreads(2)
    counts = [
        run_step(policy, monkeypatch, seconds=1.0 if i == 0 else 0.6, others=0.0) for i in range(4)
    ]
    assert counts == [1, 2, 2, 2] and policy.counts == counts
    assert torch.get_num_threads() == before  # restored after every step


def test_busy_cores_keep_one_thread(cores, monkeypatch):
    policy = StepThreads(2)
    counts = [run_step(policy, monkeypatch, seconds=1.0, others=0.9) for _ in range(4)]
    assert counts == [1, 1, 1, 1]


def test_a_multi_thread_step_that_is_not_faster_backs_off(cores, monkeypatch):
    policy = StepThreads(2)
    assert run_step(policy, monkeypatch, seconds=1.0, others=0.0) == 1
    assert run_step(policy, monkeypatch, seconds=3.0, others=0.0) == 2  # descheduled: slower
    counts = [run_step(policy, monkeypatch, seconds=1.0, others=0.0) for _ in range(BACK_OFF + 1)]
    assert counts == [1] * BACK_OFF + [2]


def test_without_proc_stat_every_step_has_one_thread(cores, monkeypatch):
    policy = StepThreads(2)
    monkeypatch.setattr(threads_module, "_busy_seconds", lambda: None)
    for _ in range(3):
        with policy.step() as n:
            assert n == 1


def test_busy_seconds_reads_proc_stat_when_there_is_one():
    value = threads_module._busy_seconds()
    if value is None:
        pytest.skip("no /proc/stat here")
    assert value > 0
