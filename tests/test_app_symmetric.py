"""AppTest stories of the Symmetric page (Wang 2025)."""
from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import nmdcore
from tests.helpers import finish_runs, open_page, page_run, stop_mid_run
SYMMETRIC = [k for k, s in nmdcore.SOLVERS.items() if s.family == "symmetric"]
pytestmark = pytest.mark.skipif(not SYMMETRIC, reason="no symmetric solver in nmdcore")


def open_symmetric() -> AppTest:
    at = open_page("pages/5_Symmetric.py", 120)
    assert not at.exception, at.exception
    return at


def test_default_synthetic_run_compares_every_symmetric_solver_with_tsvd():
    at = open_symmetric()
    at.number_input(key="sym_max_iter").set_value(60)
    at.button(key="sym_run").click().run()
    finish_runs(at)
    assert not at.exception, at.exception
    table = at.session_state["sym_table"]
    assert list(table["solver"]) == ["TSVD"] + [nmdcore.SOLVERS[k].label for k in SYMMETRIC]
    errors = table.set_index("solver")["ReLU error ‖X − max(0, Θ)‖/‖X‖"]
    # the point of Wang (2025): NSMD beats TSVD on the sparse symmetric matrix
    assert errors["NSMD-AAPB"] < errors["TSVD"]
    assert len(at.get("plotly_chart")) == 2  # curves + heatmaps


def test_rank_and_solver_change_on_a_similarity_graph():
    at = open_symmetric()
    at.radio(key="sym_source").set_value("kNN similarity graph of an image set").run()
    assert not at.exception, at.exception
    at.slider(key="sym_count").set_value(100).run()
    at.multiselect(key="sym_solvers").set_value([SYMMETRIC[0]]).run()
    at.slider(key="sym_rank").set_value(5)
    at.number_input(key="sym_max_iter").set_value(20)
    at.button(key="sym_run").click().run()
    finish_runs(at)
    assert not at.exception, at.exception
    run = page_run(at, "symmetric")
    assert run.meta["rank"] == 5 and [res.solver for res in run.results] == ["tsvd", SYMMETRIC[0]]
    theta = run.results[1].theta
    assert theta.shape == (100, 100) and np.allclose(theta, theta.T)


def test_stop_ends_the_sequence_and_keeps_what_ran():
    at = open_symmetric()
    at.number_input(key="sym_max_iter").set_value(100_000)
    at.number_input(key="sym_time_limit").set_value(300.0)
    at.button(key="sym_run").click().run()
    stop_mid_run(at, "symmetric", "sym_stop", min_iterations=3)
    assert not at.exception, at.exception
    run = page_run(at, "symmetric")
    assert run.stopped_by == "you" and [res.solver for res in run.results] == ["tsvd", SYMMETRIC[0]]
    assert run.results[1].stop_reason == "interrupted" and run.results[1].n_iter >= 3
    assert at.success[0].value.startswith("stopped by you after")
    assert list(at.session_state["sym_table"]["how it ended"])[1] == "Stopped by you; the result so far is kept."
    assert len(at.get("plotly_chart")) == 2  # curves + heatmaps of what ran
