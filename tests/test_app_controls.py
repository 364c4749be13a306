"""Controls built from the solver specs, the rank across datasets, and the app's memory budget (AppTest)."""
from __future__ import annotations

import pytest

import nmdcore
from tests.helpers import finish_runs, open_page, page_run
from ui import data as uidata

EXPLORE, COMPARE = "pages/2_Explore.py", "pages/3_Compare.py"


@pytest.fixture(autouse=True)
def fresh_result_store():
    uidata._result_store().clear()
    yield


def submit_rank(at, rank: int) -> None:
    """Move the rank slider and press Run (the slider sits in the run form), with a tiny budget."""
    at.slider(key="rank").set_value(rank)
    at.number_input(key="explore_max_iter").set_value(2)
    at.button(key="run").click().run()
    finish_runs(at)
    assert not at.exception, at.exception


def test_rank_comes_back_after_the_5x5_example():
    at = open_page(EXPLORE)
    at.sidebar.selectbox(key="dataset").set_value("relu_lowrank").run()
    submit_rank(at, 12)
    at.sidebar.selectbox(key="dataset").set_value("example_5x5").run()
    assert not at.exception, at.exception
    assert at.slider(key="rank").value == 4 and at.slider(key="rank").max == 4
    at.sidebar.selectbox(key="dataset").set_value("relu_lowrank").run()
    assert at.slider(key="rank").value == 12
    # a rank chosen on the small matrix is the new wish
    at.sidebar.selectbox(key="dataset").set_value("example_5x5").run()
    submit_rank(at, 2)
    at.sidebar.selectbox(key="dataset").set_value("relu_lowrank").run()
    assert at.slider(key="rank").value == 2


def test_every_hyperparameter_gets_the_control_its_spec_names():
    """Sliders for bounded ranges, log sliders shown in plain numbers for scale parameters."""
    at = open_page(EXPLORE)
    at.sidebar.selectbox(key="dataset").set_value("relu_lowrank").run()
    accessor = {"slider": lambda k: at.slider(key=k), "log_slider": lambda k: at.select_slider(key=k),
                "select": lambda k: at.selectbox(key=k), "checkbox": lambda k: at.checkbox(key=k),
                "number": lambda k: at.number_input(key=k)}
    seen = set()
    for key in [k for k, s in nmdcore.SOLVERS.items() if "explore" in s.pages]:
        at.selectbox(key="explore_solver").set_value(key).run()
        assert not at.exception, at.exception
        for h in nmdcore.SOLVERS[key].hyperparameters:
            widget = accessor[h.widget](f"explore_{key}_{h.name}")
            assert widget.value == h.default, (key, h.name, widget.value)
            seen.add(h.widget)
    assert {"slider", "log_slider", "select"} <= seen
    at.selectbox(key="explore_solver").set_value("nmd_tm").run()
    lam = at.select_slider(key="explore_nmd_tm_lam")
    assert "0.0001" in lam.options and "1e-04" not in lam.options  # plain numbers


def test_a_bad_memory_setting_is_one_line_and_the_default_applies(monkeypatch):
    monkeypatch.setenv("NMD_APP_MEMORY_MB", "abc")
    at = open_page(EXPLORE)
    at.sidebar.selectbox(key="dataset").set_value("relu_lowrank").run()
    at.number_input(key="explore_max_iter").set_value(3)
    at.button(key="run").click().run()
    assert not at.exception
    assert [w.value for w in at.sidebar.warning if "NMD_APP_MEMORY_MB" in w.value] == [
        f"NMD_APP_MEMORY_MB='abc' is not a positive number of megabytes; using the default budget of "
        f"{uidata.memory_budget()[0] / 2**20:,.0f} MB."]
    finish_runs(at)
    assert not at.exception and not at.error and page_run(at, "explore").result.n_iter == 3


def test_compare_refusal_quotes_the_most_demanding_solver(monkeypatch):
    at = open_page(COMPARE)
    at.multiselect(key="compare_solvers").set_value(["bcd", "a_nmd"]).run()
    X = uidata.load_named(at.session_state["dataset"]).X
    rank = at.slider(key="rank").value
    needs = {k: uidata.estimate_bytes(X, k, rank) for k in ("bcd", "a_nmd")}
    assert needs["a_nmd"] > needs["bcd"]
    budget_mb = (needs["bcd"] + needs["a_nmd"]) / 2 / 2**20  # enough for bcd, not for a_nmd
    monkeypatch.setenv("NMD_APP_MEMORY_MB", str(budget_mb))
    at.button(key="compare_run").click().run()
    assert not at.exception
    [message] = [e.value for e in at.error]
    assert nmdcore.SOLVERS["a_nmd"].label in message and f"{needs['a_nmd'] / 2**20:,.0f} MB" in message
    assert nmdcore.SOLVERS["bcd"].label not in message
