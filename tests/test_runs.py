"""The run object behind every page's Run button, without a browser: thread, stop, histories, registry."""
from __future__ import annotations

import time

import numpy as np
import pytest

import nmdcore
from ui import runs


@pytest.fixture
def X():
    """Sparse and of full rank: no rank-4 solver reaches its tolerance on it within a test."""
    return np.maximum(0, np.random.default_rng(0).standard_normal((60, 50)))


def long_job(X, **kwargs):
    return runs.Job(X, 4, "nmd_3b", max_iter=10**7, time_limit=120.0, **kwargs)


def wait_for_iterations(run, n, timeout=30):
    deadline = time.monotonic() + timeout
    while run.histories()[-1:] == [] or len(run.histories()[-1][1]["objective"]) <= n:
        assert run.running and time.monotonic() < deadline
        time.sleep(0.01)


def test_a_run_gives_the_same_result_as_decompose(X):
    run = runs.Run([runs.Job(X, 4, "ebcd", max_iter=25, seed=3)], inputs="x").start()
    assert run.join(60) and not run.running
    direct = nmdcore.decompose(X, 4, solver="ebcd", max_iter=25, time_limit=20.0, random_state=3)
    np.testing.assert_array_equal(run.result.theta, direct.theta)
    assert run.stopped_by is None and run.outcome() == f"finished ({direct.stop_reason}) after 25 iterations"
    assert run.first_point_s is not None and run.first_point_s >= 0


def test_stop_keeps_what_the_solver_has_so_far(X):
    run = runs.Run([long_job(X)], inputs="x").start()
    wait_for_iterations(run, 5)
    run.stop()
    assert run.join(5), "the solver did not stop at its next iteration"
    res = run.result
    assert run.stopped_by == runs.BY_YOU and res.stop_reason == "interrupted"
    assert 5 <= res.n_iter < 10**7 and len(res.history["objective"]) == res.n_iter + 1
    assert run.outcome() == f"stopped by you after {res.n_iter} iterations"
    assert run.stop_reason(res) == "stopped by you"


def test_a_closed_tab_stops_its_run(X, monkeypatch):
    connected = {"sid": True}
    monkeypatch.setattr(runs.st_private, "session_is_connected", lambda sid: connected.get(sid))
    run = runs.Run([long_job(X)], inputs="x", session_id="sid").start()
    wait_for_iterations(run, 3)
    assert run.running
    connected["sid"] = False
    assert run.join(runs.SESSION_CHECK_S + 5)
    assert run.stopped_by == runs.BY_CLOSED_TAB and run.result.stop_reason == "interrupted"
    assert run.outcome().startswith("stopped when its browser tab closed")


def test_a_sequence_stops_after_the_job_in_progress_and_keeps_the_finished_ones(X):
    run = runs.Run([runs.Job(X, 4, "tsvd", label="TSVD"), long_job(X), runs.Job(X, 4, "ebcd")], inputs="x").start()
    wait_for_iterations(run, 3)
    run.stop()
    assert run.join(5)
    assert [res.solver for res in run.results] == ["tsvd", "nmd_3b"]
    assert run.outcome().startswith(f"stopped by you after {run.results[1].n_iter} iterations of 3B-NMD")
    assert run.outcome().endswith("(2 of 3 runs)")


def test_a_failing_job_gives_one_line_and_keeps_the_earlier_results(X):
    run = runs.Run([runs.Job(X, 4, "tsvd"), runs.Job(X, 999, "ebcd")], inputs="x").start()
    assert run.join(30)
    assert len(run.results) == 1 and run.error and "\n" not in run.error and "rank" in run.error


def test_keep_theta_false_keeps_histories_only(X):
    run = runs.Run([runs.Job(X, 4, "ebcd", max_iter=5)], inputs="x", keep_theta=False).start()
    assert run.join(30)
    assert run.result.theta is None and run.result.factors == {} and run.nbytes == 0
    assert len(run.result.history["relu_error"]) == 6


def test_long_histories_are_thinned_for_drawing_with_their_iteration_numbers(X):
    run = runs.Run([runs.Job(X, 4, "nmd_3b", max_iter=300)], inputs="x").start()
    assert run.join(60)
    (label, h), = run.histories(max_points=50)
    full = run.result.history
    assert label == "3B-NMD" and len(h["objective"]) == len(h["iteration"]) <= 50
    assert h["iteration"][0] == 0 and h["iteration"][-1] == run.result.n_iter
    np.testing.assert_array_equal(h["relu_error"], full["relu_error"][h["iteration"]])
    (_, whole), = run.histories(max_points=None)
    assert "iteration" not in whole and len(whole["objective"]) == run.result.n_iter + 1


def test_a_reload_adopts_the_runs_of_its_closed_tab_never_of_an_open_one(monkeypatch):
    connected = {"old": True, "new": True, "other": True}
    monkeypatch.setattr(runs.st_private, "session_is_connected", lambda sid: connected.get(sid))
    monkeypatch.setattr(runs, "ADOPT_WAIT_S", 0.2)
    registry = runs._Registry()
    token, first = registry.session(None, "old", None)
    first.runs["explore"] = "a run"
    # a second tab given the same URL while the first is open gets a session of its own
    other, entry = registry.session(None, "other", token)
    assert other != token and entry.runs == {}
    # the first tab reloads: its old session disconnects, the new one takes the runs over
    connected["old"] = False
    again, entry = registry.session(None, "new", token)
    assert again == token and entry.runs == {"explore": "a run"} and entry.owner == "new"
    # an unknown or forged token gives a fresh session
    fresh, entry = registry.session(None, "new", "forged")
    assert fresh not in (token, "forged") and entry.runs == {}


def test_runs_of_closed_tabs_are_kept_within_bounds(monkeypatch, X):
    monkeypatch.setattr(runs.st_private, "session_is_connected", lambda sid: sid == "open")
    registry = runs._Registry()
    done = runs.Run.finished([runs.Job(X, 4, "ebcd")], [nmdcore.decompose(X, 4, max_iter=2)], inputs="x")
    open_token, entry = registry.session(None, "open", None)
    entry.runs["explore"] = done
    closed = []
    for i in range(runs.CLOSED_SESSIONS_KEPT + 3):
        token, entry = registry.session(None, f"closed-{i}", None)
        entry.runs["explore"] = done
        closed.append(token)
    registry.session(None, "open-2", None)  # pruning happens when a session is created
    assert open_token in registry.sessions  # a connected tab's runs are never dropped
    kept = [t for t in closed if t in registry.sessions]
    assert kept == closed[-runs.CLOSED_SESSIONS_KEPT:]


def test_an_unexpected_failure_gives_one_line_not_a_traceback(X, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("out of cheese\nsecond line")

    monkeypatch.setattr(runs.nmdcore, "decompose", broken)
    run = runs.Run([runs.Job(X, 4, "ebcd")], inputs="x").start()
    assert run.join(10)
    assert run.results == [] and run.error == "the solver failed: RuntimeError: out of cheese"
