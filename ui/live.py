"""Run a solver in the script thread and draw its convergence curve while it runs.

Pattern A of the Streamlit recipe: :func:`nmdcore.decompose` calls back after every
iteration; the callback redraws a placeholder at most every
:data:`REDRAW_INTERVAL_S` seconds. Any widget click (our Stop button, the toolbar's
Stop) interrupts the script at its next Streamlit call, i.e. inside a redraw: the
callback catches that interruption, asks the solver to stop (so the partial result
is returned intact), hands the result to the page, and only then lets the
interruption continue.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import streamlit as st
from .st_private import ScriptControlException

import nmdcore

from . import figures

#: Minimum seconds between two redraws of the live curve (≤ 4 redraws per second).
REDRAW_INTERVAL_S = 0.25


@dataclass
class LiveStats:
    """Timings of one live run, shown on the page and used for the report."""

    started: float = 0.0
    first_point_s: float | None = None
    redraws: int = 0
    last_redraw: float = 0.0
    draw_times: list = field(default_factory=list)

    @property
    def update_rate_hz(self) -> float | None:
        """Redraws per second between the first and the last redraw."""
        if len(self.draw_times) < 2:
            return None
        span = self.draw_times[-1] - self.draw_times[0]
        return (len(self.draw_times) - 1) / span if span > 0 else None


def _snapshot(history: dict) -> dict:
    return {k: list(v) for k, v in history.items()}


def run_live(X, rank: int, solver: str, *, params: dict, run: dict, seed: int, chart, status,
             x_axis: str = "iteration", key: str = "live", on_done=None, figure=None, label: str = "",
             started: float | None = None):
    """Run :func:`nmdcore.decompose` with a live curve in ``chart`` and progress in ``status``.

    Parameters
    ----------
    X : ndarray
    rank, solver, params, seed
        Passed to :func:`nmdcore.decompose` (``params`` are the hyperparameters).
    run : dict
        ``init``, ``max_iter``, ``time_limit``.
    chart, status : streamlit placeholders (``st.empty()``)
    x_axis : {"iteration", "time"}
    key : str
        Prefix of the element keys of the redraws.
    on_done : callable, optional
        ``on_done(result, stopped, stats)`` called before an interruption is passed on.
    figure : callable, optional
        ``figure(history) -> plotly Figure`` drawn live (default: :func:`figures.convergence`).
    label : str
        Prefix of the progress text (default: the solver's label).
    started : float, optional
        ``time.perf_counter()`` of the Run click, when work was done before this call.

    Returns
    -------
    (Result, LiveStats)

    Raises
    ------
    nmdcore.NMDError
        Bad input, before any work (the caller shows it as one line).
    """
    spec = nmdcore.SOLVERS[solver]
    stats = LiveStats(started=time.perf_counter() if started is None else started)
    pending: list[BaseException] = []

    def draw(progress) -> None:
        now = time.perf_counter()
        history = _snapshot(progress.history)
        total = max(run["max_iter"], 1)
        frac = min(1.0, max(progress.iteration / total, progress.time / max(run["time_limit"], 1e-9)))
        status.progress(frac, text=f"{label or spec.label}: iteration {progress.iteration} · "
                                   f"ReLU error {progress.relu_error:.4g} · {progress.time:.1f} s")
        fig = (figure(history) if figure is not None
               else figures.convergence(history, x=x_axis, objective_label=spec.objective, solver=solver))
        chart.plotly_chart(fig, key=f"{key}-{progress.iteration}", width="stretch")
        if stats.first_point_s is None:
            stats.first_point_s = now - stats.started
        stats.redraws += 1
        stats.last_redraw = now
        stats.draw_times.append(now)

    def callback(progress):
        if pending:
            return True
        now = time.perf_counter()
        if stats.redraws and now - stats.last_redraw < REDRAW_INTERVAL_S:
            return None
        try:
            draw(progress)
        except ScriptControlException as exc:  # a click asked for a rerun or a stop
            pending.append(exc)
            return True
        return None

    result = nmdcore.decompose(X, rank, solver=solver, init=run["init"], max_iter=run["max_iter"],
                               time_limit=run["time_limit"], random_state=seed, callback=callback,
                               **params)
    stopped = bool(pending)
    if on_done is not None:
        on_done(result, stopped, stats)
    if pending:
        raise pending[0]
    return result, stats


def run_sequence(X, rank: int, jobs: list, *, run: dict, chart, status, record: dict, x_axis: str = "time",
                 subtract_min: bool = False, key: str = "seq", keep_theta: bool = False) -> None:
    """Run several solvers one after another on one shared live comparison chart.

    Parameters
    ----------
    jobs : list of dict
        ``solver``, ``params``, ``seed``, ``init`` and ``label`` of each run.
    record : dict
        Receives ``runs`` (one dict per finished or stopped run: the job plus ``history``,
        ``relu_error``, ``n_iter``, ``stop_reason`` and, with ``keep_theta``, ``theta``)
        and ``stopped``. A Stop click ends the sequence after saving the run in progress.
    """
    record.setdefault("runs", [])
    record["stopped"] = False

    def histories(current=None):
        out = {r["label"]: r["history"] for r in record["runs"]}
        if current is not None:
            out.update(current)
        return figures.comparison(out, x=x_axis, subtract_min=subtract_min)

    for i, job in enumerate(jobs):
        def done(result, stopped, stats, job=job):
            run_info = dict(job, history={k: np.asarray(v) for k, v in result.history.items()},
                            relu_error=result.relu_error, n_iter=result.n_iter,
                            stop_reason="stopped by you" if stopped else result.stop_reason)
            if keep_theta:
                run_info["theta"] = result.theta
            record["runs"].append(run_info)
            record["stopped"] = stopped

        run_live(X, rank, job["solver"], params=job["params"], run=dict(run, init=job["init"]), seed=job["seed"],
                 chart=chart, status=status, key=f"{key}-{i}", on_done=done,
                 figure=lambda h, job=job: histories({job["label"]: h}),
                 label=f"{job['label']} ({i + 1}/{len(jobs)})")


def sequence_outcome(state_key: str, data_key: str, status, prompt: str) -> dict:
    """The stored record of :func:`run_sequence` for this data, announced in ``status``; else stop the page."""
    record = st.session_state.get(state_key)
    if not record or record["data_key"] != data_key or not record["runs"]:
        status.info(prompt)
        st.stop()
    state = "stopped by you" if record["stopped"] else "finished"
    status.success(f"{state}: {len(record['runs'])} run(s) at r = {record['rank']}.")
    return record
