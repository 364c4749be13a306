"""AppTest stories of the Compare page."""
from __future__ import annotations


import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import nmdcore
from tests.helpers import interrupt_redraw, open_page
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
    assert not at.exception, at.exception
    table = at.session_state["compare_table"]
    assert len(table) == len(chosen)
    assert (table["runs"] == 1).all()
    assert np.all(np.diff(table["best ReLU error"].to_numpy()) >= 0)  # sorted, best first
    assert len(at.get("plotly_chart")) == 1
    assert at.dataframe


def test_random_starts_give_mean_and_best_bands():
    at = open_compare()
    two = ITERATIVE[:2]
    at.multiselect(key="compare_solvers").set_value(two).run()
    at.number_input(key="compare_starts").set_value(3)
    at.number_input(key="compare_max_iter").set_value(15)
    at.slider(key="rank").set_value(5)
    at.button(key="compare_run").click().run()
    assert not at.exception, at.exception
    record = at.session_state["compare_record"]
    assert len(record["runs"]) == 6
    # random starts differ from one another (seeds seed, seed+1, seed+2)
    starts = [r["history"]["relu_error"][0] for r in record["runs"][:3]]
    assert len(set(np.round(starts, 12))) == 3
    charts = at.get("plotly_chart")
    assert len(charts) == 2  # bands + all runs
    assert "mean" in charts[0].proto.spec and "best" in charts[0].proto.spec


def test_stop_during_a_comparison_keeps_finished_runs(monkeypatch):
    at = open_compare()
    interrupt_redraw(monkeypatch, "comparison", at_call=8)
    at.multiselect(key="compare_solvers").set_value(ITERATIVE[:2]).run()
    at.number_input(key="compare_max_iter").set_value(5)
    at.button(key="compare_run").click().run()
    record = at.session_state["compare_record"]
    assert record["stopped"] and len(record["runs"]) == 2
    assert record["runs"][0]["stop_reason"] == "max_iter"
    assert record["runs"][1]["stop_reason"] == "stopped by you"
    monkeypatch.undo()
    at.run()
    assert not at.exception, at.exception
    assert at.success[0].value.startswith("stopped by you")
