"""Per-iteration bookkeeping shared by every solver: history, stopping rules, callback."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ._errors import NMDError

STOP_REASONS = ("tol", "stall", "max_iter", "time_limit", "callback", "interrupted", "diverged")

#: Why a run ended, in words for people: one sentence per :attr:`Result.stop_reason`
#: (every entry of :data:`STOP_REASONS`, plus ``"exact"`` for one-shot baselines).
STOP_SENTENCES = {
    "tol": "Converged: the objective fell below the tolerance.",
    "stall": "Converged: the error stopped improving.",
    "max_iter": "Reached the iteration limit; more iterations may still lower the error.",
    "time_limit": "Reached the time limit; more time may still lower the error.",
    "callback": "Stopped by the progress callback; the result so far is kept.",
    "interrupted": "Stopped on request; the result so far is kept.",
    "diverged": ("Diverged: the error grew without bound, so the last finite iterate is kept; "
                 "try a smaller momentum or step, or the TSVD start."),
    "exact": "Computed exactly in one step.",
}


def describe_stop(reason: str) -> str:
    """One plain sentence that says why a run ended.

    Parameters
    ----------
    reason : str
        A :attr:`nmdcore.Result.stop_reason`.

    Returns
    -------
    str
        E.g. ``"Converged: the error stopped improving."`` for ``"stall"``.

    Raises
    ------
    NMDError
        ``reason`` is not a stop reason the engine gives.
    """
    try:
        return STOP_SENTENCES[reason]
    except (KeyError, TypeError):
        raise NMDError(f"unknown stop reason {reason!r} (known: {', '.join(STOP_SENTENCES)})") from None

#: A ReLU error above this (Θ's positive part a million times larger than X) counts as
#: divergence, like a non-finite value: NMD-TM from a random start grows without bound but stays
#: finite for thousands of iterations. The reference traces stay below 3e3 while reproducible.
DIVERGENCE_LIMIT = 1e6

#: Distance, in iterations, of the stall test ``|obj[k] - obj[k - STALL_LAG]| < tol_stall``
#: (the reference codes compare with the value 11 entries back).
STALL_LAG = 11


@dataclass
class Progress:
    """What a callback receives at the start and after every iteration.

    Attributes
    ----------
    iteration : int
        0 at the starting point, k after iteration k.
    objective, relu_error, time : float
        Latest values (see :class:`nmdcore.Result` for their meaning).
    max_iter : int
    history : dict of lists
        Everything recorded so far (read-only by convention).
    """

    iteration: int
    objective: float
    relu_error: float
    time: float
    max_iter: int
    history: dict = field(repr=False)


class Monitor:
    """Records one entry per iteration and decides when a solver stops.

    A solver calls :meth:`record` once at its starting point and once after
    every iteration; when it returns True the solver returns its current
    iterate, or -- if :attr:`stop_reason` is ``"diverged"`` (a non-finite value,
    or a ReLU error above :data:`DIVERGENCE_LIMIT`, which is not recorded) --
    its previous one, the last recorded. The stopping rules follow the reference codes (docs/solvers.md),
    evaluated on the recorded objective.
    """

    def __init__(self, *, max_iter: int, tol: float, tol_stall: float,
                 time_limit: float | None, callback: Callable | None, extras=(), stop_event=None):
        self.max_iter = int(max_iter)
        self.tol = float(tol)
        self.tol_stall = float(tol_stall)
        self.time_limit = math.inf if time_limit is None else float(time_limit)
        self.callback = callback
        self.stop_event = stop_event
        self.history = {"objective": [], "relu_error": [], "time": []}
        for name in extras:
            self.history[name] = []
        self.stop_reason: str | None = None
        self._t0 = time.perf_counter()

    @property
    def iteration(self) -> int:
        """Number of completed iterations (0 after the starting point was recorded)."""
        return len(self.history["objective"]) - 1

    def elapsed(self) -> float:
        return time.perf_counter() - self._t0

    def stop_requested(self) -> bool:
        """True once the caller's ``stop_event`` is set.

        Checked by :meth:`record` after every iteration; a solver whose single
        iteration is long also calls it inside the iteration, and when it answers
        True records its current (partial-iteration) point and returns it. Cheap:
        one attribute test, or one ``is_set()`` call.
        """
        return self.stop_event is not None and self.stop_event.is_set()

    def record(self, objective: float, relu_error: float, **extras) -> bool:
        """Store one entry; return True when the solver must stop."""
        h = self.history
        t = self.elapsed()
        objective = float(objective)
        relu_error = float(relu_error)
        if h["objective"] and not (math.isfinite(objective) and relu_error <= DIVERGENCE_LIMIT):
            self.stop_reason = "diverged"  # not recorded: the solver returns its previous iterate
            return True
        h["objective"].append(objective)
        h["relu_error"].append(relu_error)
        h["time"].append(t)
        for name, value in extras.items():
            h[name].append(float(value))
        k = len(h["objective"]) - 1
        if self.callback is not None:
            progress = Progress(k, objective, relu_error, t, self.max_iter, h)
            if self.callback(progress) is True:
                self.stop_reason = "callback"
                return True
        if self.stop_requested():
            self.stop_reason = "interrupted"
            return True
        if k == 0:
            if self.max_iter == 0:
                self.stop_reason = "max_iter"
                return True
            return False
        if objective < self.tol:
            self.stop_reason = "tol"
        elif k >= STALL_LAG and abs(objective - h["objective"][k - STALL_LAG]) < self.tol_stall:
            self.stop_reason = "stall"
        elif t > self.time_limit:
            self.stop_reason = "time_limit"
        elif k >= self.max_iter:
            self.stop_reason = "max_iter"
        return self.stop_reason is not None

    @property
    def last_relu_error(self) -> float:
        """The ReLU error ‖X − max(0, Θ)‖/‖X‖ of the last recorded iterate.

        A solver that returns that iterate (the refused one of a divergence is never recorded)
        hands this to :meth:`nmdcore._problem.Problem.remember_relu_error` instead of measuring
        the error again: the pass that recorded it formed the same Θ = W H.
        """
        return self.history["relu_error"][-1]

    def last_iteration(self) -> bool:
        """True when the iteration now running is the last one ``max_iter`` allows."""
        return self.iteration + 1 >= self.max_iter

    def arrays(self) -> dict:
        """History as float64 arrays of equal length."""
        return {k: np.asarray(v, dtype=np.float64) for k, v in self.history.items()}
