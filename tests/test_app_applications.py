"""AppTest stories of the Applications page: the three tasks run, show ground truth, sweep and stop."""
from __future__ import annotations

import pytest

from tests.helpers import interrupt_redraw, open_page


@pytest.fixture
def page():
    at = open_page("pages/7_Applications.py", 120)
    assert not at.exception, at.exception
    return at


def test_completion_recovers_the_hidden_matrix_where_tsvd_cannot(page):
    at = page
    at.slider(key="apps_comp_size").set_value(60).run()
    at.number_input(key="apps_comp_max_iter").set_value(300).run()
    at.button(key="apps_comp_run").click().run()
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
    assert not at.exception, at.exception
    table = at.session_state["apps_dist_table"]
    assert list(table["solver"]) == ["eBCD-NMD"]
    assert table["ground-truth error ‖D̂ − D‖/‖D‖"][0] < 1e-4          # 70% observed, 3-D cube
    assert table["points after alignment ‖P̂ − P‖/‖P − c‖"][0] < 1e-4
    at.number_input(key="apps_dist_sweep_time").set_value(0.3)
    at.text_input(key="apps_dist_sweep_grid").set_value("0.5, 0.9").run()
    at.button(key="apps_dist_sweep_run").click().run()
    assert not at.exception, at.exception
    points = at.session_state["apps_dist_sweep"]["points"]
    assert set(points) == {(name, f) for name in ("eBCD-NMD", "plain rank 6 (eBCD-NMD)") for f in (0.5, 0.9)}


def test_embedding_beats_tsvd_and_sweeps_the_rank(page):
    at = page
    at.radio(key="apps_task").set_value("embedding").run()
    assert not at.exception, at.exception
    assert at.sidebar.selectbox(key="dataset").value == "mnist5k"
    at.slider(key="apps_emb_count").set_value(100).run()
    at.number_input(key="apps_emb_max_iter").set_value(100).run()
    at.button(key="apps_emb_run").click().run()
    assert not at.exception, at.exception
    deviation = at.session_state["apps_emb_deviation"]
    assert deviation["eBCD-NMD"] < 0.5 * deviation["TSVD"]
    at.text_input(key="apps_emb_grid").set_value("3, 8").run()
    at.button(key="apps_emb_sweep_run").click().run()
    assert not at.exception, at.exception
    assert len(at.session_state["apps_emb_sweep"]["points"]) == 4


def test_embedding_of_the_faces(page):
    at = page
    at.radio(key="apps_task").set_value("embedding").run()
    at.sidebar.selectbox(key="dataset").set_value("olivetti").run()
    at.slider(key="apps_emb_count").set_value(100).run()
    at.number_input(key="apps_emb_max_iter").set_value(50).run()
    at.button(key="apps_emb_run").click().run()
    assert not at.exception, at.exception
    assert set(at.session_state["apps_emb_deviation"]) == {"TSVD", "eBCD-NMD"}


def test_stop_keeps_the_runs_done_so_far(page, monkeypatch):
    at = page
    interrupt_redraw(monkeypatch, "comparison", at_call=3)
    at.number_input(key="apps_comp_max_iter").set_value(5000).run()
    at.button(key="apps_comp_run").click().run()
    monkeypatch.undo()
    at.run()
    assert not at.exception, at.exception
    record = at.session_state["apps_comp_record"]
    assert record["stopped"] and 1 <= len(record["runs"]) < 4
    assert "stopped by you" in at.success[0].value


def test_bad_settings_give_one_line(page):
    at = page
    at.multiselect(key="apps_comp_solvers").set_value(["a_nmd"]).run()
    at.radio(key="apps_task").set_value("distances").run()
    at.multiselect(key="apps_dist_solvers").set_value(["naive"]).run()
    at.selectbox(key="apps_dist_naive_tsvd").set_value("randomized")
    at.button(key="apps_dist_run").click().run()
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
    at.slider(key="apps_emb_rank").set_value(3).run()
    at.number_input(key="apps_emb_max_iter").set_value(30).run()
    at.button(key="apps_emb_run").click().run()
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
