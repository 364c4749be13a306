"""AppTest stories of the Factorization dynamics page (Ye & Du 2021)."""
from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import nmdcore
from tests.helpers import finish_runs, open_page, page_run, stop_mid_run
pytestmark = pytest.mark.skipif("gd" not in nmdcore.SOLVERS, reason="no gd solver in nmdcore")


def open_dynamics() -> AppTest:
    at = open_page("pages/6_Factorization_dynamics.py", 120)
    assert not at.exception, at.exception
    return at


def test_default_run_converges_from_a_small_balanced_start():
    at = open_dynamics()
    at.button(key="dyn_run").click().run()
    finish_runs(at)
    assert not at.exception, at.exception
    h = page_run(at, "dynamics").result.history
    assert h["objective"][-1] < 1e-3 * h["objective"][0]
    # Ye & Du: the factors stay balanced and σᵢ(W) → √σᵢ(X) (here σ(X) = 1, 0.625, 0.25)
    assert h["imbalance"][-1] < 1e-2
    assert np.allclose([h[f"sv_U_{i}"][-1] for i in (1, 2, 3)], np.sqrt([1.0, 0.625, 0.25]), atol=1e-3)
    assert len(at.get("plotly_chart")) == 3


def test_step_and_start_scale_sliders_reach_the_solver():
    at = open_dynamics()
    at.slider(key="dyn_gd_step").set_value(0.05)
    at.select_slider(key="dyn_gd_init_scale").set_value(0.1)
    at.number_input(key="dyn_max_iter").set_value(50)
    at.button(key="dyn_run").click().run()
    finish_runs(at)
    assert not at.exception, at.exception
    res = page_run(at, "dynamics").result
    assert res.params["step"] == pytest.approx(0.05) and res.params["init_scale"] == pytest.approx(0.1)
    assert res.n_iter == 50


def test_stop_keeps_the_partial_dynamics():
    at = open_dynamics()
    at.select_slider(key="dyn_kappa").set_value(100.0).run()  # σ_d = 0.01 and a small step: a long run
    at.slider(key="dyn_gd_step").set_value(0.01)
    at.number_input(key="dyn_max_iter").set_value(100_000)
    at.number_input(key="dyn_time_limit").set_value(300.0)
    at.button(key="dyn_run").click().run()
    at.toggle(key="dyn_log").set_value(False).run()  # a rerun that leaves the run alone
    assert page_run(at, "dynamics").running
    stop_mid_run(at, "dynamics", "dyn_stop", min_iterations=5)
    assert not at.exception, at.exception
    run = page_run(at, "dynamics")
    assert run.stopped_by == "you" and 5 <= run.result.n_iter < 100_000
    assert f": {run.result.n_iter} iterations in" in at.success[0].value and "Stopped by you" in at.success[0].value
    assert len(at.get("plotly_chart")) == 3  # the partial run is drawn in full
