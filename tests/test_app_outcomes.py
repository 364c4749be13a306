"""How runs end, in words: status sentences and the warnings shown beside the curves."""
from __future__ import annotations

import json

import pytest

import nmdcore
from test_app_compare import open_compare
from tests.helpers import finish_runs, page_run
from ui import results


def test_outcome_is_a_sentence_with_the_reason_or_the_stop():
    text = results.outcome("eBCD-NMD", 20, 300, 16.6, "max_iter", stopped=False)
    assert text == ("**eBCD-NMD**, r = 20: 300 iterations in 16.6 s. "
                    + nmdcore.describe_stop("max_iter"))
    assert results.outcome("A-NMD", 5, 3, 0.04, "callback", stopped=True).endswith(results.STOPPED_BY_YOU)
    assert "0.04 s" in results.outcome("A-NMD", 5, 3, 0.04, "stall", stopped=False)


@pytest.mark.parametrize("reason, error, tsvd, flagged", [
    ("diverged", 0.2, 0.3, "Diverged"),        # diverged says so even when the kept iterate looks fine
    ("max_iter", 0.9, 0.3, "Far above TSVD"),   # 3× TSVD's error
    ("max_iter", 0.44, 0.3, None),              # below the 1.5× line
    ("stall", 0.1, 0.3, None),
    ("max_iter", float("nan"), 0.3, "Far above TSVD"),  # a NaN error never passes silently
    ("max_iter", 0.9, None, None),              # no baseline, no comparison
])
def test_run_warning(reason, error, tsvd, flagged):
    warning = results.run_warning(reason, error, tsvd)
    assert (warning is None) if flagged is None else warning.startswith(flagged)


def test_compare_warns_beside_the_curve_when_random_starts_diverge_and_bands_follow_the_x_axis():
    """NMD-TM from random starts blows up on the digits (errors in the tens); the page says so in words."""
    at = open_compare("digits")
    at.multiselect(key="compare_solvers").set_value(["ebcd", "nmd_tm"]).run()
    at.number_input(key="compare_starts").set_value(2)
    at.number_input(key="compare_max_iter").set_value(60)
    at.slider(key="rank").set_value(10)
    at.radio(key="compare_x").set_value("iteration")
    at.button(key="compare_run").click().run()
    finish_runs(at)
    assert not at.exception, at.exception
    warnings = [w.value for w in at.warning]
    label = nmdcore.SOLVERS["nmd_tm"].label
    assert any(w.startswith(f"**{label}** (2 of 2 runs): Far above TSVD") for w in warnings), warnings
    assert not any(nmdcore.SOLVERS["ebcd"].label in w for w in warnings), warnings
    table = at.session_state["compare_table"].set_index("solver")
    assert table.loc[label, "best ReLU error"] > 10  # what the page used to show without a word
    bands = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert bands["layout"]["xaxis"]["title"]["text"] == "iteration"


def test_explore_says_a_diverged_run_diverged_in_its_status_and_beside_the_curve():
    from test_app_explore import open_explore, pick_dataset, small_budget

    at = pick_dataset(open_explore(), "digits")
    at.selectbox(key="explore_solver").set_value("nmd_tm").run()
    at.slider(key="rank").set_value(10)
    at.radio(key="explore_init").set_value("random")
    small_budget(at, 300)
    at.button(key="run").click().run()
    finish_runs(at)
    assert not at.exception, at.exception
    res = page_run(at, "explore").result
    assert res.stop_reason == "diverged"
    assert at.success[0].value.endswith(nmdcore.describe_stop("diverged"))
    assert [w.value for w in at.warning] == [nmdcore.describe_stop("diverged")]


def test_compare_says_what_each_chosen_solver_does_and_cites_it():
    at = open_compare()
    chosen = at.multiselect(key="compare_solvers").value
    text = " ".join(m.value for m in at.markdown)
    for key in chosen:
        spec = nmdcore.SOLVERS[key]
        assert spec.summary in text and spec.paper in text, key
