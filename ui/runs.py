"""Solver runs that outlive the script run that started them.

A :class:`Run` is one or several :func:`nmdcore.decompose` calls (a page's "Run"
press) executed one after another by a worker thread that the run owns. The thread
never calls Streamlit: the engine's callback only stores the latest progress on the
run, and a stop signal (any object with ``is_set()``, as ``decompose`` accepts) ends
the run at the next iteration boundary, or inside a long iteration for solvers that
check it there, keeping everything computed so far.

Where a run lives: in a server-side registry, under an unguessable token that the
browser session holds in ``st.session_state`` and in the page URL (``?run=…``), one
run per page slot. Registering a run is a plain dictionary write, so no rerun
triggered by a click can lose it; Streamlit reruns, page switches and reloads only
change how it is drawn. While it runs, a page draws it with :func:`follow`, a
fragment that refreshes itself and reruns the page once when the run ends.

What ends a run early:

* the page's Stop button (:func:`stop_button`);
* a change of what the run was computed for -- the page asks :func:`current` for
  the run of its present inputs (e.g. the dataset), and a running run of other
  inputs is stopped and kept, shown again when those inputs come back;
* its browser tab closing or reloading: the stop signal asks Streamlit whether the
  session that started the run is still connected (at most every
  :data:`SESSION_CHECK_S` seconds) and stops the run when it is not.

A page with a run, in short::

    with left, st.form("form"):
        rank = ...
        submitted = st.form_submit_button("Run", key="run")
    with right, runs.stop_row("mine", "stop"):
        x_axis = st.radio(...)                      # display controls beside Stop
    if submitted:
        runs.start("mine", [runs.Job(X, rank, "ebcd", params)], inputs=data_key)
    run = runs.section("mine", data_key, prompt="Press **Run**.", where=right,
                       draw=lambda run, histories: st.plotly_chart(...))
    ...                                             # draw run.result / run.results

Clicks on widgets that change neither the run nor its inputs (the x axis, how many
images are shown) let it go on. A reload finds the runs again through the token in
the URL once the old tab has disconnected; runs of closed tabs are kept up to
:data:`CLOSED_SESSIONS_KEPT` sessions and :data:`CLOSED_BYTES_KEPT` bytes.
"""
from __future__ import annotations

import dataclasses
import logging
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import streamlit as st

import nmdcore

from . import st_private

#: Seconds between two redraws of a running run (the fragment's ``run_every``).
POLL_S = 0.5
#: Most points of one curve sent to the browser (longer histories are thinned for drawing).
DRAW_POINTS = 2000
#: Seconds between two checks, from the solver's thread, that the run's browser tab is still open.
SESSION_CHECK_S = 0.5
#: Seconds a Stop (or a change of inputs) waits for the solver to reach its next stop check,
#: so that the rerun it triggers shows the stopped result at once.
STOP_WAIT_S = 2.0
#: Seconds a reloaded page waits for its previous tab to disconnect before it adopts its runs.
ADOPT_WAIT_S = 1.5
#: Browser sessions whose tab is gone but whose runs are kept for a reload.
CLOSED_SESSIONS_KEPT = 8
#: Bytes of arrays those kept runs may hold together.
CLOSED_BYTES_KEPT = 512 * 2**20
#: Where a session keeps its token (``st.session_state``) and where the URL carries it.
TOKEN_KEY = "_runs_token"
QUERY_KEY = "run"

#: Why a run ended early (``Run.stopped_by``).
BY_YOU, BY_CLOSED_TAB, BY_NEW_RUN = "you", "closed tab", "new run"

_log = logging.getLogger(__name__)


@dataclass
class Job:
    """One :func:`nmdcore.decompose` call of a run.

    Parameters
    ----------
    X : ndarray
    rank : int
    solver : str
    params : dict
        Hyperparameters.
    init : str or mapping
    max_iter : int
    time_limit : float or None
    seed : int
        ``random_state``.
    label : str
        Name on curves and progress lines (default: the solver's label).
    """

    X: np.ndarray
    rank: int
    solver: str
    params: dict = field(default_factory=dict)
    init: object = "tsvd"
    max_iter: int = 300
    time_limit: float | None = 20.0
    seed: int = 0
    label: str = ""

    def __post_init__(self):
        if not self.label:
            self.label = nmdcore.SOLVERS[self.solver].label if self.solver in nmdcore.SOLVERS else self.solver


def _thin(history: dict, max_points: int | None) -> dict:
    n = min(len(v) for v in history.values())
    if max_points is None or n <= max_points:
        return history
    keep = np.unique(np.linspace(0, n - 1, max_points).round().astype(int))
    thinned = {k: np.asarray(v)[keep] for k, v in history.items()}
    thinned["iteration"] = keep
    return thinned


class _StopSignal:
    """The run's ``stop_event``: set by Stop, or by itself once the run's browser tab is gone."""

    def __init__(self, session_id: str | None):
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._session_id = session_id
        self._next_check = 0.0
        self.reason: str | None = None

    def set(self, reason: str) -> None:
        with self._lock:
            if not self._event.is_set():
                self.reason = reason
                self._event.set()

    def is_set(self) -> bool:
        if self._event.is_set():
            return True
        now = time.monotonic()
        if now >= self._next_check:
            self._next_check = now + SESSION_CHECK_S
            if st_private.session_is_connected(self._session_id) is False:
                self.set(BY_CLOSED_TAB)
        return self._event.is_set()


class Run:
    """Jobs executed one after another by a worker thread; readable while they run.

    Parameters
    ----------
    jobs : list of Job
    inputs : hashable
        What the results are about (e.g. the data's content key): a page shows the
        run only while its own inputs are equal (see :func:`current`).
    meta : dict, optional
        Whatever the page needs to draw the result later (settings, dataset name).
    keep_theta : bool
        False drops Θ and the factors of each finished job (comparisons keep only
        histories and errors).
    session_id : str, optional
        The Streamlit session that started the run; the run stops once it disconnects.
    started : float, optional
        ``time.perf_counter()`` of the click, when the page did work before starting.

    Attributes
    ----------
    results : list of nmdcore.Result
        One per finished (or stopped) job, in order.
    error : str or None
        One line, when a job failed (an :class:`nmdcore.NMDError` or an unexpected error).
    stopped_by : {None, "you", "closed tab", "new run"}
        Why the run ended before its jobs were done (None: it was not stopped).
    first_point_s : float or None
        Seconds from the start to the first recorded point.
    stop_latency_s : float or None
        Seconds from the first stop request to the end of the run (None: never asked).
    """

    def __init__(self, jobs, *, inputs, meta=None, keep_theta: bool = True, session_id: str | None = None,
                 started: float | None = None):
        self.jobs = list(jobs)
        self.inputs = inputs
        self.meta = dict(meta or {})
        self.keep_theta = keep_theta
        self.results: list = []
        self.error: str | None = None
        self.stopped_by: str | None = None
        self.first_point_s: float | None = None
        self.stop_latency_s: float | None = None
        self._stop_asked: float | None = None
        self._started = time.perf_counter() if started is None else started
        self._signal = _StopSignal(session_id)
        self._live = None  # (job index, nmdcore.Progress) of the job in progress
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def finished(cls, jobs, results, *, inputs, meta=None) -> "Run":
        """A run whose results were computed before (e.g. reused from a cache)."""
        run = cls(jobs, inputs=inputs, meta=meta)
        run.results = list(results)
        run._done.set()
        return run

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> "Run":
        """Start the worker thread (once)."""
        if self._thread is None and not self._done.is_set():
            self._thread = threading.Thread(target=self._work, name="nmd-run", daemon=True)
            self._thread.start()
        return self

    def stop(self, by: str = BY_YOU) -> None:
        """Ask the solver to stop at its next check; what it has so far is kept."""
        if not self._done.is_set():
            if self._stop_asked is None:
                self._stop_asked = time.perf_counter()
            self._signal.set(by)

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the run has ended (at most ``timeout`` seconds); True when it has."""
        return self._done.wait(timeout)

    @property
    def running(self) -> bool:
        return not self._done.is_set()

    @property
    def stopping(self) -> bool:
        """Stop was asked and the solver has not reached its stop check yet."""
        return self.running and self._signal.reason is not None

    def _work(self) -> None:
        try:
            for index, job in enumerate(self.jobs):
                if self._signal.is_set():
                    break
                res = nmdcore.decompose(job.X, job.rank, solver=job.solver, init=job.init,
                                        max_iter=job.max_iter, time_limit=job.time_limit,
                                        random_state=job.seed, stop_event=self._signal,
                                        callback=lambda p, index=index: self._on_progress(index, p),
                                        **job.params)
                if not self.keep_theta:
                    res = dataclasses.replace(res, theta=None, factors={})
                self.results.append(res)
                if res.stop_reason == "interrupted":
                    break
        except nmdcore.NMDError as exc:
            self.error = str(exc)
        except Exception as exc:  # the page shows one line; the server log keeps the traceback
            _log.exception("solver run failed")
            self.error = f"the solver failed: {type(exc).__name__}: {exc}".splitlines()[0]
        finally:
            self._live = None
            if self._stop_asked is not None:
                self.stop_latency_s = time.perf_counter() - self._stop_asked
            if self._signal.reason is not None and (len(self.results) < len(self.jobs)
                                                    or self.results[-1].stop_reason == "interrupted"):
                self.stopped_by = self._signal.reason
            self._done.set()

    def _on_progress(self, index: int, progress) -> None:
        if self.first_point_s is None:
            self.first_point_s = time.perf_counter() - self._started
        self._live = (index, progress)

    # -- reading ------------------------------------------------------------------------------
    @property
    def result(self):
        """The last finished (or stopped) job's :class:`nmdcore.Result` (None before the first)."""
        return self.results[-1] if self.results else None

    def histories(self, max_points: int | None = DRAW_POINTS) -> list[tuple[str, dict]]:
        """``(label, history)`` of every finished job, then the partial history of the job in progress.

        A history longer than ``max_points`` is thinned to that many entries, evenly
        spaced and always with the first and the last, and gets an ``"iteration"``
        entry with the iteration number of each kept entry (see :func:`figures.iterations`).
        """
        out = [(job.label, res.history) for job, res in zip(self.jobs, self.results)]
        live = self._live
        if live is not None and live[0] >= len(self.results):
            index, progress = live
            h = progress.history  # lists the solver's thread appends to: copy a common prefix
            n = min(len(v) for v in h.values())
            out.append((self.jobs[index].label, {k: np.asarray(v[:n], dtype=float) for k, v in h.items()}))
        return [(label, _thin(h, max_points)) for label, h in out]

    def progress(self) -> tuple[float, str]:
        """Fraction done (by iterations or time, whichever is further) and a one-line progress text."""
        live = self._live
        if live is None:
            return 0.0, "starting…"
        index, p = live
        job = self.jobs[index]
        frac = p.iteration / max(job.max_iter, 1)
        if job.time_limit:
            frac = max(frac, p.time / job.time_limit)
        part = (index + min(frac, 1.0)) / len(self.jobs)
        where = f" ({index + 1}/{len(self.jobs)})" if len(self.jobs) > 1 else ""
        stopping = " · stopping…" if self.stopping else ""
        spec = nmdcore.SOLVERS.get(job.solver)
        value = (f"loss {p.objective:.4g}" if spec is not None and spec.input_kind == "real"
                 else f"ReLU error {p.relu_error:.4g}")
        return part, f"{job.label}{where}: iteration {p.iteration} · {value} · {p.time:.1f} s{stopping}"

    def stop_reason(self, result) -> str:
        """``result.stop_reason``, or ``"stopped by you"`` for a job your Stop ended."""
        if result.stop_reason == "interrupted" and self.stopped_by == BY_YOU:
            return "stopped by you"
        return result.stop_reason

    def outcome(self) -> str:
        """How the run ended, in words: "stopped by you after 12 iterations", "finished (tol) after 80 iterations"."""
        res = self.result
        n = 0 if res is None else res.n_iter
        several = len(self.jobs) > 1
        of = f" of {self.jobs[len(self.results) - 1].label}" if several and res is not None else ""
        count = f" ({len(self.results)} of {len(self.jobs)} runs)" if several else ""
        if self.stopped_by == BY_YOU:
            return f"stopped by you after {n} iterations{of}{count}"
        if self.stopped_by == BY_CLOSED_TAB:
            return f"stopped when its browser tab closed, after {n} iterations{of}{count}"
        if self.stopped_by == BY_NEW_RUN:
            return f"replaced by a new run after {n} iterations{of}{count}"
        if several:
            return f"finished: {len(self.results)} runs"
        return f"finished ({res.stop_reason}) after {n} iterations" if res is not None else "no result"

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays the run holds (Θ and factors)."""
        total = 0
        for res in self.results:
            arrays = [res.theta, *res.factors.values()]
            total += sum(a.nbytes for a in arrays if isinstance(a, np.ndarray))
        return total


@dataclass
class _Session:
    """The runs of one browser session (and of its reloads), by page slot."""

    owner: str | None
    runs: dict = field(default_factory=dict)


class _Registry:
    """Every session's runs on this server, under unguessable tokens."""

    def __init__(self):
        self.lock = threading.Lock()
        self.sessions: OrderedDict[str, _Session] = OrderedDict()

    def session(self, token: str | None, session_id: str | None, wanted: str | None) -> tuple[str, _Session]:
        """The session of ``token``; else adopt ``wanted`` (a reload's URL token); else a new one."""
        with self.lock:
            if token in self.sessions:
                self.sessions.move_to_end(token)
                return token, self.sessions[token]
        if wanted is not None and wanted in self.sessions and self._adoptable(wanted, session_id):
            with self.lock:
                entry = self.sessions[wanted]
                entry.owner = session_id
                self.sessions.move_to_end(wanted)
                return wanted, entry
        with self.lock:
            token = secrets.token_urlsafe(18)
            self._prune()
            entry = self.sessions[token] = _Session(owner=session_id)
            return token, entry

    def _adoptable(self, token: str, session_id: str | None) -> bool:
        """A reload may take over the runs of a session whose tab has disconnected, never of a live one."""
        owner = self.sessions[token].owner
        if owner is None or session_id is None:
            return False
        if owner == session_id:
            return True
        deadline = time.monotonic() + ADOPT_WAIT_S
        while True:  # the old tab's disconnect may arrive just after the reload's first run starts
            state = st_private.session_is_connected(owner)
            if state is False:
                return True
            if state is None or time.monotonic() > deadline:
                return False
            time.sleep(0.05)

    def _prune(self) -> None:
        """Forget the oldest sessions of closed tabs beyond the count and byte budgets (lock held)."""
        closed = [t for t, s in self.sessions.items()
                  if st_private.session_is_connected(s.owner) is not True
                  and not any(run.running for run in s.runs.values())]
        kept_bytes = 0
        for i, token in enumerate(reversed(closed)):  # newest first
            kept_bytes += sum(run.nbytes for run in self.sessions[token].runs.values())
            if i >= CLOSED_SESSIONS_KEPT or kept_bytes > CLOSED_BYTES_KEPT:
                del self.sessions[token]

    def slots(self, token: str) -> list:
        """``(slot, run)`` pairs of the session ``token``."""
        with self.lock:
            entry = self.sessions.get(token)
            return [] if entry is None else list(entry.runs.items())


@st.cache_resource(show_spinner=False)
def _registry() -> _Registry:
    return _Registry()


def _session() -> _Session:
    """This browser session's runs; puts its token into the session state and the URL."""
    token, entry = _registry().session(st.session_state.get(TOKEN_KEY), st_private.current_session_id(),
                                       st.query_params.get(QUERY_KEY))
    if st.session_state.get(TOKEN_KEY) != token:
        st.session_state[TOKEN_KEY] = token
    if st.query_params.get(QUERY_KEY) != token:
        st.query_params[QUERY_KEY] = token
    return entry


def start(slot: str, jobs, *, inputs, meta=None, keep_theta: bool = True, started: float | None = None):
    """Start a run in ``slot`` of this browser session; it replaces the slot's previous run.

    Parameters
    ----------
    slot : str
        The page's name for its run (one run per slot).
    jobs : list of Job
    inputs, meta, keep_theta, started
        See :class:`Run`.

    The run is registered before its thread starts, so nothing a rerun raises can
    lose it; then the page reruns, so that everything drawn above the call (the Stop
    button) sees the run. Does not return.
    """
    entry = _session()
    old = entry.runs.get(slot)
    if old is not None:
        old.stop(BY_NEW_RUN)
    run = Run(jobs, inputs=inputs, meta=meta, keep_theta=keep_theta, session_id=st_private.current_session_id(),
              started=started)
    entry.runs[slot] = run
    run.start()
    st.rerun()


def keep(slot: str, run: Run) -> Run:
    """Put a run that needs no thread (e.g. :meth:`Run.finished`) into ``slot``; returns it."""
    entry = _session()
    old = entry.runs.get(slot)
    if old is not None:
        old.stop(BY_NEW_RUN)
    entry.runs[slot] = run
    return run


def current(slot: str, inputs) -> Run | None:
    """The run in ``slot`` if it was made for ``inputs``, else None.

    A run of other inputs that is still running is stopped (and kept: it is shown
    again when the page's inputs are back to its own). After a Stop, waits up to
    :data:`STOP_WAIT_S` for the solver to reach its stop check.
    """
    run = _session().runs.get(slot)
    if run is None:
        return None
    if run.inputs != inputs:
        if run.running:
            run.stop(BY_YOU)
            run.join(STOP_WAIT_S)
        return None
    if run.stopping:
        run.join(STOP_WAIT_S)
    return run


def _stop(slot: str) -> None:
    run = _session().runs.get(slot)
    if run is not None:
        run.stop(BY_YOU)
        run.join(STOP_WAIT_S)


#: What Stop does, in the button's help.
STOP_HELP = ("Stops the running solver at its next iteration (CD-NMD, whose iterations are long, within the "
             "one under way); its result so far is kept.")


def stop_button(slot: str, key: str, **kwargs) -> None:
    """The Stop button of ``slot`` (enabled while its run runs)."""
    run = _session().runs.get(slot)
    st.button("Stop", key=key, on_click=_stop, args=(slot,), disabled=run is None or not run.running,
              width="stretch", help=STOP_HELP,
              **kwargs)


def stop_row(slot: str, key: str):
    """A row above the run's figure: returns its wide left part (for display controls) and puts the
    Stop button of ``slot`` at its right, next to where the live view appears."""
    controls, stop = st.columns([3, 1], vertical_alignment="bottom")
    with stop:
        stop_button(slot, key=key)
    return controls


def follow(run: Run, draw) -> None:
    """Draw a running run, refreshed every :data:`POLL_S` seconds, and rerun the page once it ends.

    Parameters
    ----------
    run : Run
    draw : callable
        ``draw(run, histories)`` draws the live figure from :meth:`Run.histories`.
    """
    @st.fragment(run_every=POLL_S)
    def live_view():
        if not run.running:
            st.rerun()
        fraction, text = run.progress()
        st.progress(min(max(fraction, 0.0), 1.0), text=text)
        histories = run.histories()
        if histories:
            draw(run, histories)

    live_view()


def section(slot: str, inputs, *, prompt: str, draw, where=None, fallback=None) -> Run:
    """The run part of a page: the run of ``slot`` for ``inputs`` once it has ended.

    Draws, in ``where`` (a container; default: the page), the prompt when there is no
    run, the live view (:func:`follow`) while it runs, and a failed run's one-line
    error; in those cases the page script stops here. Otherwise returns the run,
    which holds at least one result, for the page to draw.

    Parameters
    ----------
    slot : str
    inputs : hashable
        The page's present inputs (see :func:`current`).
    prompt : str
        Markdown shown when there is no run yet.
    draw : callable
        ``draw(run, histories)``: the live figure.
    where : container, optional
    fallback : callable, optional
        ``fallback() -> Run | None``: what to show when this session has no run here
        (e.g. an example run computed once per server).
    """
    run = current(slot, inputs) or (fallback() if fallback is not None else None)
    with where if where is not None else st.container():
        if run is None:
            st.info(prompt)
            st.stop()
        if run.running:
            follow(run, draw)
            st.stop()
        if run.error:
            st.error(run.error)
        if not run.results:
            st.stop()
    return run


def find(token: str, slot: str) -> Run | None:
    """The run in ``slot`` of the session ``token`` (for tests and scripts)."""
    return next((run for s, run in _registry().slots(token) if s == slot), None)


def join_all(token: str, timeout: float | None = None) -> bool:
    """Wait for every run of the session ``token`` (for tests and scripts); True when all ended."""
    deadline = None if timeout is None else time.monotonic() + timeout
    for _, run in _registry().slots(token):
        left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
        if not run.join(left):
            return False
    return True
