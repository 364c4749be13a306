"""AppTest stories of the Applications page: the three tasks run, show ground truth, sweep and stop.

Every solver call of the page is a run of ``ui.runs`` (a worker thread): a story waits for it
(``finish_runs``) and reruns the page, as the live view does when a run ends.
"""
from __future__ import annotations

import pytest

from tests.helpers import finish_runs, open_page, page_run, stop_mid_run


@pytest.fixture
def page():
    at = open_page("pages/7_Applications.py", 120)
    assert not at.exception, at.exception
    return at


def test_completion_recovers_the_hidden_matrix_where_tsvd_cannot(page):
    at = page
    at.slider(key="apps_comp_size").set_value(60).run()
    at.button(key="apps_comp_run").click().run()
    finish_runs(at)
    assert not at.exception, at.exception
    errors = at.session_state["apps_comp_errors"]
    assert set(errors) == {"TSVD", "A-NMD", "eBCD-NMD", "3B-NMD"}
    assert errors["TSVD"] > 0.5 and max(v for k, v in errors.items() if k != "TSVD") < 1e-6
    assert len(at.get("plotly_chart")) == 4  # live curves, the three maps, the error map, the truth curve


def test_distances_recover_points_and_sweep_the_fraction(page):
    at = page
    at.radio(key="apps_task").set_value("distances").run()
    assert not at.exception, at.exception
    at.multiselect(key="apps_dist_solvers").set_value(["ebcd"]).run()
    at.slider(key="apps_dist_n").set_value(40).run()
    at.button(key="apps_dist_run").click().run()
    finish_runs(at)
    assert not at.exception, at.exception
    table = at.session_state["apps_dist_table"]
    assert list(table["solver"]) == ["eBCD-NMD"]
    assert table["ground-truth error ‖D̂ − D‖/‖D‖"][0] < 1e-4          # 70% observed, 3-D cube
    assert table["points after alignment ‖P̂ − P‖/‖P − c‖"][0] < 1e-4
    at.number_input(key="apps_dist_sweep_time").set_value(2.0)  # the budget must hold on a loaded CI machine
    at.text_input(key="apps_dist_sweep_grid").set_value("0.5, 0.9").run()
    at.button(key="apps_dist_sweep_run").click().run()
    finish_runs(at)
    assert not at.exception, at.exception
    sweep = page_run(at, "apps_fraction_sweep")
    assert len(sweep.jobs) == 4 and sweep.stopped_by is None  # one run of the four solver calls
    points = {sweep.meta["at"][i]: v for i, v in sweep.meta["values"].items()}
    assert set(points) == {(name, f) for name in ("eBCD-NMD", "plain rank 6 (eBCD-NMD)") for f in (0.5, 0.9)}
    assert points[("eBCD-NMD", 0.9)] < 1e-3  # 90% observed: the offset model recovers D
    assert len(at.get("plotly_chart")) == 3  # curves, points, the sweep


def test_embedding_beats_tsvd_and_sweeps_the_rank(page):
    at = page
    at.radio(key="apps_task").set_value("embedding").run()
    assert not at.exception, at.exception
    assert at.sidebar.selectbox(key="dataset").value == "mnist5k"
    at.slider(key="apps_emb_count").set_value(100).run()
    at.number_input(key="apps_emb_max_iter").set_value(100)
    at.button(key="apps_emb_run").click().run()
    finish_runs(at)
    assert not at.exception, at.exception
    deviation = at.session_state["apps_emb_deviation"]
    assert deviation["eBCD-NMD"] < 0.5 * deviation["TSVD"]
    at.text_input(key="apps_emb_grid").set_value("3, 8").run()
    at.button(key="apps_emb_sweep_run").click().run()
    finish_runs(at)
    assert not at.exception, at.exception
    sweep = page_run(at, "apps_rank_sweep")
    assert [job.label for job in sweep.jobs] == ["TSVD, r = 3", "eBCD-NMD, r = 3", "TSVD, r = 8", "eBCD-NMD, r = 8"]
    assert [job.max_iter for job in sweep.jobs if job.solver == "ebcd"] == [100, 100]  # the budgets of the run above
    assert len(sweep.meta["values"]) == 4


def test_embedding_of_the_faces(page):
    at = page
    at.radio(key="apps_task").set_value("embedding").run()
    at.sidebar.selectbox(key="dataset").set_value("olivetti").run()
    at.slider(key="apps_emb_count").set_value(100).run()
    at.number_input(key="apps_emb_max_iter").set_value(50)
    at.button(key="apps_emb_run").click().run()
    finish_runs(at)
    assert not at.exception, at.exception
    assert set(at.session_state["apps_emb_deviation"]) == {"TSVD", "eBCD-NMD"}


def test_stop_keeps_the_runs_done_so_far(page):
    at = page
    at.number_input(key="apps_comp_max_iter").set_value(100_000)
    at.number_input(key="apps_comp_time_limit").set_value(60.0)
    at.button(key="apps_comp_run").click().run()
    stop_mid_run(at, "apps_completion", "apps_comp_stop")
    assert not at.exception, at.exception
    run = page_run(at, "apps_completion")
    assert run.stopped_by == "you" and 2 <= len(run.results) < 4  # TSVD, then the solver that was stopped
    assert "stopped by you" in at.success[0].value
    assert list(at.dataframe[0].value["stop"])[-1] == "stopped by you"
    assert set(at.session_state["apps_comp_errors"]) == {job.label for job in run.jobs[:len(run.results)]}
    assert len(at.get("plotly_chart")) == 4  # the stopped run's curves, maps, error map and truth curve


def test_a_click_or_another_task_during_a_run_keeps_it(page):
    at = page
    at.number_input(key="apps_comp_max_iter").set_value(100_000)
    at.number_input(key="apps_comp_time_limit").set_value(60.0)
    at.button(key="apps_comp_run").click().run()
    run = page_run(at, "apps_completion")
    at.radio(key="apps_comp_x").set_value("iteration").run()  # changes neither the run nor its problem
    at.radio(key="apps_task").set_value("distances").run()
    assert page_run(at, "apps_completion") is run and run.running
    at.radio(key="apps_task").set_value("completion").run()
    stop_mid_run(at, "apps_completion", "apps_comp_stop")
    assert not at.exception, at.exception
    assert page_run(at, "apps_completion") is run and run.stopped_by == "you"
    assert "stopped by you" in at.success[0].value
    at.radio(key="apps_task").set_value("embedding").run()
    at.radio(key="apps_task").set_value("completion").run()  # back: the last result is shown again
    assert "stopped by you" in at.success[0].value and len(at.get("plotly_chart")) == 4


def test_stop_during_a_sweep_keeps_the_points_done(page):
    at = page
    at.radio(key="apps_task").set_value("distances").run()
    at.multiselect(key="apps_dist_solvers").set_value(["ebcd"]).run()
    at.slider(key="apps_dist_n").set_value(40).run()
    at.number_input(key="apps_dist_max_iter").set_value(50)
    at.button(key="apps_dist_run").click().run()
    finish_runs(at)
    at.number_input(key="apps_dist_sweep_time").set_value(0.5)
    at.text_input(key="apps_dist_sweep_grid").set_value("0.3, 0.5, 0.7, 0.9").run()
    at.button(key="apps_dist_sweep_run").click().run()
    sweep = page_run(at, "apps_fraction_sweep")
    while len(sweep.results) < 2:  # each call runs its 0.5 s budget
        assert sweep.running
        sweep.join(0.05)
    at.button(key="apps_dist_sweep_run_stop").click().run()
    finish_runs(at)
    assert not at.exception, at.exception
    assert sweep.stopped_by == "you" and 2 <= len(sweep.results) < 8
    full = {i for i, res in enumerate(sweep.results) if res.stop_reason != "interrupted"}
    assert len(full) >= 2 and set(sweep.meta["values"]) == full  # a point only from a run with its whole budget
    assert any("stopped by you" in c.value for c in at.caption)
    assert len(at.get("plotly_chart")) == 3


def test_bad_settings_give_one_line(page):
    at = page
    at.multiselect(key="apps_comp_solvers").set_value(["a_nmd"]).run()
    at.radio(key="apps_task").set_value("distances").run()
    at.multiselect(key="apps_dist_solvers").set_value(["naive"]).run()
    at.selectbox(key="apps_dist_naive_tsvd").set_value("randomized")
    at.button(key="apps_dist_run").click().run()
    finish_runs(at)
    assert not at.exception, at.exception
    assert "exact truncated SVD" in at.error[0].value and "\n" not in at.error[0].value


def test_embedding_of_uploaded_images(page):
    from test_app_explore import png_bytes

    at = page
    at.radio(key="apps_task").set_value("embedding").run()
    at.sidebar.selectbox(key="dataset").set_value("__upload__").run()
    files = [(f"img{i}.png", png_bytes(seed=i), "image/png") for i in range(12)]
    at.sidebar.file_uploader(key="upload").set_value(files).run()
    assert not at.exception, at.exception
    at.slider(key="apps_emb_tau").set_value(0.3).run()
    at.slider(key="apps_emb_rank").set_value(3)
    at.number_input(key="apps_emb_max_iter").set_value(30)
    at.button(key="apps_emb_run").click().run()
    finish_runs(at)
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert set(at.session_state["apps_emb_deviation"]) == {"TSVD", "eBCD-NMD"}


def test_too_few_uploaded_images_say_so(page):
    from test_app_explore import png_bytes

    at = page
    at.radio(key="apps_task").set_value("embedding").run()
    at.sidebar.selectbox(key="dataset").set_value("__upload__").run()
    at.sidebar.file_uploader(key="upload").set_value(
        [(f"img{i}.png", png_bytes(seed=i), "image/png") for i in range(3)]).run()
    assert not at.exception, at.exception
    assert "at least 5 images" in at.error[0].value


def test_two_sessions_never_see_each_others_runs():
    first, second = open_page("pages/7_Applications.py", 120), open_page("pages/7_Applications.py", 120)
    first.number_input(key="apps_comp_max_iter").set_value(100_000)
    first.number_input(key="apps_comp_time_limit").set_value(60.0)
    first.button(key="apps_comp_run").click().run()
    second.run()
    assert page_run(second, "apps_completion") is None and "press **Run**" in second.info[0].value
    stop_mid_run(first, "apps_completion", "apps_comp_stop")
    second.run()
    assert page_run(second, "apps_completion") is None and not second.success
    assert "stopped by you" in first.success[0].value
