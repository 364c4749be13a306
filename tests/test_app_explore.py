"""AppTest stories of the Explore page: default run, slider, solver change, uploads, Stop, errors."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

import nmdcore
from tests.helpers import interrupt_redraw, open_page

EXPLORE = "pages/2_Explore.py"


@pytest.fixture(autouse=True)
def fresh_result_store():
    """Finished results are shared per server; start each story without earlier ones."""
    import ui.data

    ui.data._result_store().clear()
    yield


def open_explore(timeout: float = 60) -> AppTest:
    at = open_page(EXPLORE, timeout)
    assert not at.exception, at.exception
    return at


def pick_dataset(at: AppTest, name: str) -> AppTest:
    at.sidebar.selectbox(key="dataset").set_value(name).run()
    assert not at.exception, at.exception
    return at


def small_budget(at: AppTest, iters: int = 10) -> None:
    if nmdcore.SOLVERS[at.session_state["explore_solver"]].iterative:
        at.number_input(key="explore_max_iter").set_value(iters)
        at.number_input(key="explore_time_limit").set_value(20.0)


def png_bytes(size=(16, 12), seed=0) -> bytes:
    rng = np.random.default_rng(seed)
    arr = (rng.random((size[1], size[0])) > 0.6) * rng.integers(50, 255, (size[1], size[0]))
    buf = io.BytesIO()
    Image.fromarray(arr.astype(np.uint8), mode="L").save(buf, format="PNG")
    return buf.getvalue()


def test_default_page_offers_an_offline_dataset_and_registry_solvers():
    at = open_explore()
    assert at.session_state["dataset"] == "mnist5k"
    solver_box = at.selectbox(key="explore_solver")
    assert solver_box.value in nmdcore.SOLVERS
    # every general-purpose solver of the registry is offered, the symmetric ones are not
    offered = set(solver_box.options)
    for key, spec in nmdcore.SOLVERS.items():
        label = f"{spec.label} — {spec.model}"
        assert (label in offered) == ("explore" in spec.pages), key


def test_default_dataset_run_end_to_end():
    """The default Explore story: MNIST 5k, default solver, a short budget."""
    at = open_explore(timeout=120)
    small_budget(at, iters=5)
    at.button(key="run").click().run()
    assert not at.exception, at.exception
    assert not at.error
    record = at.session_state["explore_record"]
    res = record["result"]
    assert res.theta.shape == (784, 5000)
    assert len(res.history["relu_error"]) == res.n_iter + 1
    assert not record["stopped"]
    assert record["stats"]["first_point_s"] is not None
    assert at.get("plotly_chart"), "no convergence curve drawn"
    assert len(at.image) == 1, "reconstructions missing"  # one labelled grid: original / TSVD / ReLU-NMD
    assert nmdcore.describe_stop(res.stop_reason) in at.success[0].value


def test_rank_slider_and_hyperparameters_reach_the_solver():
    at = pick_dataset(open_explore(), "relu_lowrank")
    at.slider(key="rank").set_value(7)
    small_budget(at)
    at.button(key="run").click().run()
    assert not at.exception, at.exception
    res = at.session_state["explore_record"]["result"]
    assert res.rank == 7
    spec = nmdcore.SOLVERS[res.solver]
    assert set(res.params) == {h.name for h in spec.hyperparameters}
    # non-image data: heatmaps of a block instead of images
    assert not at.image
    assert len(at.get("plotly_chart")) == 2


def test_solver_change_rebuilds_controls_from_the_registry():
    at = pick_dataset(open_explore(), "relu_lowrank")
    keys = [k for k, s in nmdcore.SOLVERS.items() if s.input_kind != "symmetric"]
    for key in keys:
        at.selectbox(key="explore_solver").set_value(key).run()
        assert not at.exception, at.exception
        spec = nmdcore.SOLVERS[key]
        for h in spec.hyperparameters:
            assert at.session_state[f"explore_{key}_{h.name}"] == h.default, (key, h.name)
    # the last one runs
    at.slider(key="rank").set_value(3)
    small_budget(at, 3)
    at.button(key="run").click().run()
    assert not at.exception, at.exception
    assert at.session_state["explore_record"]["result"].solver == keys[-1]


def test_upload_of_good_images_runs():
    at = pick_dataset(open_explore(), "__upload__")
    files = [(f"img{i}.png", png_bytes(seed=i), "image/png") for i in range(12)]
    at.sidebar.file_uploader(key="upload").set_value(files).run()
    assert not at.exception, at.exception
    assert not at.error
    data = at.session_state["uploaded"]
    assert data.X.shape == (16 * 12, 12) and data.image_shape == (12, 16)
    at.slider(key="rank").set_value(3)
    small_budget(at, 5)
    at.button(key="run").click().run()
    assert not at.exception, at.exception
    assert at.session_state["explore_record"]["result"].theta.shape == (192, 12)
    assert len(at.image) == 1
    snippet = at.code[0].value
    assert "np.load" in snippet  # an upload has no catalogue name


def test_upload_of_bad_files_shows_one_line_and_page_keeps_working():
    at = pick_dataset(open_explore(), "__upload__")
    at.sidebar.file_uploader(key="upload").set_value(("broken.png", b"not an image at all", "image/png")).run()
    assert not at.exception, at.exception
    assert len(at.error) == 1 and "\n" not in at.error[0].value
    # a good upload afterwards works on the same page
    at.sidebar.file_uploader(key="upload").set_value(
        [("a.png", png_bytes(seed=1), "image/png"), ("b.png", png_bytes(seed=2), "image/png"),
         ("c.png", png_bytes(seed=3), "image/png")]).run()
    assert not at.exception and not at.error
    assert at.session_state["uploaded"].X.shape == (192, 3)


def test_stop_keeps_the_partial_result(monkeypatch):
    """A click during a run interrupts the script inside a redraw; the partial result survives."""
    at = pick_dataset(open_explore(), "relu_lowrank")
    interrupt_redraw(monkeypatch, "convergence", at_call=4)  # the click lands in the 4th redraw
    at.number_input(key="explore_max_iter").set_value(200)
    at.number_input(key="explore_time_limit").set_value(60.0)
    at.button(key="run").click().run()
    record = at.session_state["explore_record"]
    assert record["stopped"]
    assert record["result"].stop_reason == "callback"
    assert record["result"].n_iter == 3 < 200
    monkeypatch.undo()
    at.run()  # the rerun after the click
    assert not at.exception, at.exception
    assert "r = 20: 3 iterations in" in at.success[0].value and "Stopped by you" in at.success[0].value


def test_identical_run_is_reused_from_the_content_cache():
    at = pick_dataset(open_explore(), "relu_lowrank")
    small_budget(at, 5)
    at.button(key="run").click().run()
    first = at.session_state["explore_record"]["result"]
    at.button(key="run").click().run()
    assert not at.exception
    record = at.session_state["explore_record"]
    assert record["cached"] and record["result"] is first
    assert "Reused from an identical earlier run" in at.success[0].value


def test_oversized_problem_is_refused_with_the_estimate(monkeypatch):
    monkeypatch.setenv("NMD_APP_MEMORY_MB", "1")
    at = open_explore()
    at.button(key="run").click().run()
    assert not at.exception
    assert len(at.error) == 1
    message = at.error[0].value
    assert message.startswith("Refused") and "MB" in message
    assert "explore_record" not in at.session_state


def test_engine_error_is_one_line(monkeypatch):
    at = pick_dataset(open_explore(), "example_5x5")
    at.slider(key="rank").set_value(2)
    at.run()
    import ui.live

    def bad(*args, **kwargs):
        raise nmdcore.RankError("rank must be between 1 and 4 for a 5x5 matrix, got 9")

    monkeypatch.setattr(ui.live.nmdcore, "decompose", bad)
    at.button(key="run").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == ["rank must be between 1 and 4 for a 5x5 matrix, got 9"]


def test_run_equals_the_python_snippet_call():
    """The app hands its cached TSVD to the solver as the start: same iterates as init='tsvd'."""
    at = pick_dataset(open_explore(), "relu_lowrank")
    at.slider(key="rank").set_value(6)
    small_budget(at, 12)
    at.button(key="run").click().run()
    assert not at.exception, at.exception
    record = at.session_state["explore_record"]
    res = record["result"]
    from nmdcore import datasets

    direct = nmdcore.decompose(datasets.load("relu_lowrank").X, 6, solver=res.solver, init="tsvd",
                               max_iter=record["run"]["max_iter"], time_limit=None,
                               random_state=record["seed"], **res.params)
    n = min(len(direct.history["objective"]), len(res.history["objective"]))
    assert n == 13
    np.testing.assert_allclose(res.history["objective"][:n], direct.history["objective"][:n], rtol=1e-10)
    np.testing.assert_allclose(res.theta, direct.theta, rtol=1e-8, atol=1e-10)


def test_single_image_dataset_shows_the_three_images():
    at = pick_dataset(open_explore(), "satellite_like")
    at.slider(key="rank").set_value(8)
    small_budget(at, 10)
    at.button(key="run").click().run()
    assert not at.exception, at.exception
    assert len(at.image) == 1  # original | max(0, TSVD) | max(0, Θ), titled with their errors


def test_upload_of_a_csv_matrix_runs_with_block_heatmaps():
    at = pick_dataset(open_explore(), "__upload__")
    rng = np.random.default_rng(3)
    M = np.maximum(0, rng.standard_normal((25, 4)) @ rng.standard_normal((4, 18)))
    csv = "\n".join(",".join(f"{v:.6f}" for v in row) for row in M).encode()
    at.sidebar.file_uploader(key="upload").set_value(("m.csv", csv, "text/csv")).run()
    assert not at.exception and not at.error
    assert at.session_state["uploaded"].X.shape == (25, 18)
    at.slider(key="rank").set_value(4)
    small_budget(at, 200)
    at.button(key="run").click().run()
    assert not at.exception, at.exception
    assert at.session_state["explore_record"]["result"].relu_error < 0.05  # planted ReLU rank 4
    assert not at.image and len(at.get("plotly_chart")) == 2


def test_catalogue_in_the_sidebar_leaves_out_the_long_nmf_basis():
    at = open_explore()
    options = at.sidebar.selectbox(key="dataset").options
    assert "MNIST 5k (500 per digit)" in options and not any("NMF basis" in o for o in options)


def test_downloads_hold_the_factors_history_and_figures():
    import json

    import pandas as pd

    from ui import export, figures, results

    at = pick_dataset(open_explore(), "relu_lowrank")
    small_budget(at, 7)
    at.button(key="run").click().run()
    record = at.session_state["explore_record"]
    res = record["result"]
    assert len(at.get("download_button")) == 4  # factors, history, curve .png/.pdf (no image grid for a matrix)
    with np.load(io.BytesIO(results.factors_npz(record))) as npz:
        assert set(res.factors) <= set(npz.files)
        np.testing.assert_array_equal(npz["W"] @ npz["H"], res.factors["W"] @ res.factors["H"])
        settings = json.loads(str(npz["settings"]))
    assert settings["solver"] == res.solver and settings["rank"] == res.rank and settings["dataset"] == "relu_lowrank"
    frame = pd.read_csv(io.BytesIO(results.history_csv(res.history)), index_col="iteration")
    assert len(frame) == res.n_iter + 1
    np.testing.assert_allclose(frame["relu_error"].to_numpy(), res.history["relu_error"])
    png = export.figure_bytes(export.chart(figures.convergence(res.history)), "png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
