"""AppTest stories of the Explore page: default run, slider, solver change, uploads, Stop, errors.

Runs go on in a worker thread after the script run that started them; ``finish_runs``
waits for them and reruns the page, as the live view does when a run ends.
"""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

import nmdcore
from tests.helpers import finish_runs, open_page, page_run, stop_mid_run

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


def run_explore(at: AppTest) -> AppTest:
    """Press Run and wait for the run to end."""
    at.button(key="run").click().run()
    assert not at.exception, at.exception
    return finish_runs(at)


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
    # a first visit shows a finished example run (computed once per server), not an empty panel
    assert "example run" in at.info[0].value and len(at.image) == 1 and at.get("plotly_chart")
    assert page_run(at, "explore") is None  # the example is not this session's run
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
    run_explore(at)
    assert not at.exception, at.exception
    assert not at.error
    run = page_run(at, "explore")
    res = run.result
    assert res.theta.shape == (784, 5000)
    assert len(res.history["relu_error"]) == res.n_iter + 1 == 6
    assert run.stopped_by is None
    assert run.first_point_s is not None
    assert at.get("plotly_chart"), "no convergence curve drawn"
    assert len(at.image) == 1, "reconstructions missing"  # one labelled grid: original / TSVD / ReLU-NMD
    assert nmdcore.describe_stop(res.stop_reason) in at.success[0].value


def test_rank_slider_and_hyperparameters_reach_the_solver():
    at = pick_dataset(open_explore(), "relu_lowrank")
    at.slider(key="rank").set_value(7)
    small_budget(at)
    run_explore(at)
    assert not at.exception, at.exception
    res = page_run(at, "explore").result
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
    run_explore(at)
    assert not at.exception, at.exception
    assert page_run(at, "explore").result.solver == keys[-1]


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
    run_explore(at)
    assert not at.exception, at.exception
    assert page_run(at, "explore").result.theta.shape == (192, 12)
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


def long_run(at: AppTest) -> AppTest:
    """Start a run that would take far longer than the test (stopped by the test)."""
    at.number_input(key="explore_max_iter").set_value(100_000)
    at.number_input(key="explore_time_limit").set_value(300.0)
    at.button(key="run").click().run()
    assert not at.exception, at.exception
    return at


def test_stop_keeps_the_partial_result():
    """Stop ends the run within one iteration; its curve, metrics, images and downloads stay."""
    at = long_run(pick_dataset(open_explore(), "relu_lowrank"))
    assert page_run(at, "explore").running
    assert at.get("progress"), "the live view shows the run's progress"
    stop_mid_run(at, "explore", "stop")
    run = page_run(at, "explore")
    assert run.stopped_by == "you" and run.result.stop_reason == "interrupted"
    n = run.result.n_iter
    assert 3 <= n < 100_000
    assert f": {n} iterations in" in at.success[0].value and "Stopped by you" in at.success[0].value
    assert at.metric and at.get("download_button") and len(at.get("plotly_chart")) == 2
    assert at.button(key="stop").disabled


def test_clicks_that_do_not_change_the_run_let_it_go_on():
    at = pick_dataset(open_explore(), "relu_lowrank")
    small_budget(at, 400)
    at.button(key="run").click().run()
    run = page_run(at, "explore")
    at.radio(key="explore_x").set_value("time").run()  # a rerun of the page while the solver works
    at.selectbox(key="explore_solver").set_value("nmd_3b").run()  # prepares the next run only
    assert not at.exception, at.exception
    assert page_run(at, "explore") is run
    finish_runs(at)
    assert run.stopped_by is None and run.result.n_iter == 400 and run.result.solver == "ebcd"
    assert ": 400 iterations in" in at.success[0].value and "Stopped by you" not in at.success[0].value


def test_a_new_dataset_stops_the_run_and_keeps_it_for_its_own_data():
    at = long_run(pick_dataset(open_explore(), "relu_lowrank"))
    run = page_run(at, "explore")
    pick_dataset(at, "digits")
    assert run.join(10) and run.stopped_by == "you"
    assert not at.success and any("press **Run**" in i.value for i in at.info)
    pick_dataset(at, "relu_lowrank")
    assert f": {run.result.n_iter} iterations in" in at.success[0].value and "Stopped by you" in at.success[0].value


def test_a_run_survives_a_page_switch():
    at = long_run(pick_dataset(open_explore(), "relu_lowrank"))
    run = page_run(at, "explore")
    at.switch_page("pages/1_Learn.py").run()
    assert run.running  # leaving the page does not stop the solver
    at.switch_page("pages/2_Explore.py").run()
    assert page_run(at, "explore") is run and at.get("progress")
    stop_mid_run(at, "explore", "stop")
    at.switch_page("pages/1_Learn.py").run()
    at.switch_page("pages/2_Explore.py").run()
    assert f": {run.result.n_iter} iterations in" in at.success[0].value and "Stopped by you" in at.success[0].value


def test_identical_run_is_reused_from_the_content_cache():
    at = pick_dataset(open_explore(), "relu_lowrank")
    small_budget(at, 5)
    run_explore(at)
    first = page_run(at, "explore").result
    at.button(key="run").click().run()
    assert not at.exception
    run = page_run(at, "explore")
    assert run.meta["cached"] and run.result is first
    assert "Reused from an identical earlier run" in at.success[0].value


def test_oversized_problem_is_refused_with_the_estimate(monkeypatch):
    monkeypatch.setenv("NMD_APP_MEMORY_MB", "1")
    at = open_explore()
    at.button(key="run").click().run()
    assert not at.exception
    assert len(at.error) == 1
    message = at.error[0].value
    assert message.startswith("Refused") and "MB" in message
    assert page_run(at, "explore") is None


def test_engine_error_is_one_line(monkeypatch):
    at = pick_dataset(open_explore(), "example_5x5")
    at.slider(key="rank").set_value(2)
    at.run()
    import ui.runs

    real = nmdcore.decompose

    def bad(X, rank, solver="ebcd", **kwargs):  # the TSVD start works, the solver's thread fails
        if solver == "tsvd":
            return real(X, rank, solver=solver, **kwargs)
        raise nmdcore.RankError("rank must be between 1 and 4 for a 5x5 matrix, got 9")

    monkeypatch.setattr(ui.runs.nmdcore, "decompose", bad)
    run_explore(at)
    assert not at.exception
    assert [e.value for e in at.error] == ["rank must be between 1 and 4 for a 5x5 matrix, got 9"]


def test_run_equals_the_python_snippet_call():
    """The app hands its cached TSVD to the solver as the start: same iterates as init='tsvd'."""
    at = pick_dataset(open_explore(), "relu_lowrank")
    at.slider(key="rank").set_value(6)
    small_budget(at, 12)
    run_explore(at)
    assert not at.exception, at.exception
    record = page_run(at, "explore").meta
    res = page_run(at, "explore").result
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
    run_explore(at)
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
    run_explore(at)
    assert not at.exception, at.exception
    assert page_run(at, "explore").result.relu_error < 0.05  # planted ReLU rank 4
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
    run_explore(at)
    run = page_run(at, "explore")
    res = run.result
    record = dict(run.meta, result=res)
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
