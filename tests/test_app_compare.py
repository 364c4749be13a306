"""AppTest stories of the Compare page."""
from __future__ import annotations

import time

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import nmdcore
from tests.helpers import finish_runs, open_page, page_run, stop_mid_run
ITERATIVE = [k for k, s in nmdcore.SOLVERS.items() if s.iterative and s.input_kind != "symmetric"]
pytestmark = pytest.mark.skipif(len(ITERATIVE) < 2, reason="needs two iterative solvers in nmdcore")


def open_compare(dataset="relu_lowrank") -> AppTest:
    at = open_page("pages/3_Compare.py")
    at.sidebar.selectbox(key="dataset").set_value(dataset).run()
    assert not at.exception, at.exception
    return at


def test_default_comparison_runs_and_summarises():
    at = open_compare()
    chosen = at.multiselect(key="compare_solvers").value
    assert len(chosen) >= 2
    at.number_input(key="compare_max_iter").set_value(8)
    at.slider(key="rank").set_value(5)
    at.button(key="compare_run").click().run()
    finish_runs(at)
    assert not at.exception, at.exception
    table = at.session_state["compare_table"]
    assert len(table) == len(chosen)
    assert (table["runs"] == 1).all()
    assert np.all(np.diff(table["best ReLU error"].to_numpy()) >= 0)  # sorted, best first
    assert len(at.get("plotly_chart")) == 1
    assert at.dataframe
    # the (W, H) solvers start from the one cached TSVD: the ReLU error of the TSVD itself
    from nmdcore import datasets

    tsvd = nmdcore.decompose(datasets.load("relu_lowrank").X, 5, solver="tsvd").relu_error
    run = page_run(at, "compare")
    shared = [res for res in run.results if nmdcore.SOLVERS[res.solver].start_names[:2] == ("W", "H")]
    assert shared
    for res in shared:
        assert res.history["relu_error"][0] == pytest.approx(tsvd, rel=1e-9), res.solver


def test_random_starts_give_mean_and_best_bands():
    at = open_compare()
    two = ITERATIVE[:2]
    at.multiselect(key="compare_solvers").set_value(two).run()
    at.number_input(key="compare_starts").set_value(3)
    at.number_input(key="compare_max_iter").set_value(15)
    at.slider(key="rank").set_value(5)
    at.button(key="compare_run").click().run()
    finish_runs(at)
    assert not at.exception, at.exception
    run = page_run(at, "compare")
    assert len(run.results) == 6
    assert all(res.theta is None for res in run.results)  # a comparison keeps histories, not Θ
    # random starts differ from one another (seeds seed, seed+1, seed+2)
    starts = [res.history["relu_error"][0] for res in run.results[:3]]
    assert len(set(np.round(starts, 12))) == 3
    charts = at.get("plotly_chart")
    assert len(charts) == 2  # bands + all runs
    assert "mean" in charts[0].proto.spec and "best" in charts[0].proto.spec


def test_stop_during_a_comparison_keeps_finished_runs():
    at = open_compare()
    at.multiselect(key="compare_solvers").set_value(ITERATIVE[:2]).run()
    at.number_input(key="compare_max_iter").set_value(100_000)
    at.number_input(key="compare_time_limit").set_value(1.0)  # the first solver ends by its time budget
    at.button(key="compare_run").click().run()
    run = page_run(at, "compare")
    deadline = time.monotonic() + 60
    while not run.results:  # the first solver's run ends by its time budget
        assert time.monotonic() < deadline
        time.sleep(0.05)
    stop_mid_run(at, "compare", "compare_stop", min_iterations=run.results[0].n_iter + 3)
    assert run.stopped_by == "you" and len(run.results) == 2
    assert run.results[0].stop_reason == "time_limit"
    assert run.results[1].stop_reason == "interrupted"
    assert not at.exception, at.exception
    label = nmdcore.SOLVERS[ITERATIVE[1]].label
    assert at.success[0].value.startswith(f"stopped by you after {run.results[1].n_iter} iterations of {label}")
    assert "Stopped by you; the result so far is kept." in set(at.session_state["compare_table"]["how the runs ended"])
