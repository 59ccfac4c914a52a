"""How many torch threads each refinement step runs on.

A step is hundreds of small tensor ops. On an idle machine a second core makes it
faster; on a busy one it makes it several times slower, since every op waits for a
thread the system has descheduled (on 2 cores beside one busy process, a 1000-path
512 px step took 1.4 s on one thread and 4.1 to 4.4 s on two). So a step runs on
more than one thread only while the other cores were idle during the step before,
and goes back to one as soon as a step on more was not faster than one on one.

How busy the other cores were comes from ``/proc/stat`` (busy time of all cores
less this process's CPU time); where that file is missing (not Linux) every step
runs on one thread.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

import torch

#: Core-seconds per second that other processes may use for a step to take more threads.
IDLE_OTHERS = 0.25
#: A step on more threads must take at most this part of a one-thread step's time.
FASTER = 0.85
#: Steps on one thread after a multi-thread step that was not faster.
BACK_OFF = 4


def _busy_seconds() -> float | None:
    """Busy CPU seconds of all cores since boot (``/proc/stat``), or None."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    ticks = [int(v) for v in fields[1:9]]  # user nice system idle iowait irq softirq steal
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


class StepThreads:
    """Picks the torch thread count of each step, up to ``most``.

    Use ``with policy.step(cost):`` around each step; ``cost`` is the step's expected
    time in any unit (the same for all steps compared), so that steps of different
    sizes compare fairly. ``most=1`` always gives one thread (and identical results
    from run to run: with more threads the last digits depend on the load).
    """

    def __init__(self, most: int = 1, counts: list[int] | None = None):
        self.most = max(1, min(int(most), os.cpu_count() or 1))
        self.next = 1  # threads of the next step
        self.single: float | None = None  # seconds per cost unit of the latest 1-thread step
        self.wait = 0  # 1-thread steps left before more may be tried again
        self.counts = [] if counts is None else counts  # threads each step ran on

    @contextmanager
    def step(self, cost: float = 1.0) -> Iterator[int]:
        n = self.next
        before = torch.get_num_threads()
        torch.set_num_threads(n)
        busy, mine, wall = _busy_seconds(), time.process_time(), time.perf_counter()
        try:
            yield n
        finally:
            torch.set_num_threads(before)
        wall = time.perf_counter() - wall
        mine = time.process_time() - mine
        self.counts.append(n)
        self._choose(n, wall / max(cost, 1e-9), mine, wall, busy)

    def _choose(self, n: int, per_cost: float, mine: float, wall: float, busy) -> None:
        if self.most == 1:
            return
        if n == 1:
            self.single = per_cost
            self.wait = max(0, self.wait - 1)
        elif self.single is None or per_cost > FASTER * self.single:
            self.next, self.wait = 1, BACK_OFF
            return
        now = _busy_seconds()
        if busy is None or now is None or wall <= 0:
            self.next = 1
            return
        others = (now - busy - mine) / wall  # cores' worth used by other processes
        idle = others < IDLE_OTHERS and self.single is not None and self.wait == 0
        self.next = self.most if idle else 1
