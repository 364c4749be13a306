"""Real-browser stories of the headline data offline and of the Applications page.

The server runs with an empty home (no scikit-learn cache, no nmdcore cache) and its HTTP(S)
proxy pointed at a closed port, so any download fails: the ORL faces and their NMF basis must
come from sample_data/. Reuses the server, browser and helpers of ``test_browser.py``;
screenshots go to ``test-artifacts/``.
"""
from __future__ import annotations

import json
import os
import re

import pytest

pytestmark = pytest.mark.browser

import test_browser  # noqa: E402  (skips this module too when the browser is missing)
from test_browser import (ARTIFACTS, RUN_TIMEOUT_MS, app_url, away_and_back, browser,  # noqa: E402,F401
                          expect_running, go_to, no_exception, outcome, page, pick_radio, set_number, shot,
                          stopped_iterations, wait_for_app, widget)
from playwright.sync_api import expect  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def offline_server_environment(tmp_path_factory):
    """Set before the module's server starts: an empty home and no way to download."""
    import urllib.request

    home = tmp_path_factory.mktemp("empty_home")
    saved = dict(os.environ)
    urllib.request.install_opener(None)  # urllib keeps the proxies it saw first: let it read these
    os.environ.update(HOME=str(home), SCIKIT_LEARN_DATA=str(home / "scikit_learn_data"),
                      NMD_CACHE_DIR=str(home / "nmd_cache"), XDG_CACHE_HOME=str(home / "cache"),
                      HTTP_PROXY="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9",
                      http_proxy="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9",
                      NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    yield home
    os.environ.clear()
    os.environ.update(saved)
    urllib.request.install_opener(None)  # and forget them again for the modules after this one


def _metrics(page) -> dict:
    return dict(zip(page.get_by_test_id("stMetricLabel").all_inner_texts(),
                    page.get_by_test_id("stMetricValue").all_inner_texts()))


def test_compress_opens_on_the_faces_at_r_55_offline(page, app_url, offline_server_environment):
    page.goto(f"{app_url}/Compress")
    wait_for_app(page)
    no_exception(page)
    main = page.get_by_test_id("stMain")
    expect(main).to_contain_text("X (the basis) is 4096×100, 64% zeros")
    expect(widget(page, "compress_rank").get_by_test_id("stSliderThumbValue")).to_have_text("55")
    assert widget(page, "compress_basis").count() == 0          # nothing to compute
    widget(page, "compress_run").get_by_role("button").click()
    wait_for_app(page, timeout_ms=RUN_TIMEOUT_MS)
    # the run goes on in its own thread (the page is idle between two refreshes): wait for its metrics
    expect(page.get_by_test_id("stMetricValue")).not_to_have_count(0, timeout=RUN_TIMEOUT_MS)
    no_exception(page)
    metrics = _metrics(page)
    tsvd = float(metrics["TSVD: ReLU error ‖X − max(0, Θ)‖/‖X‖"])
    nmd = float(metrics["A-NMD: ReLU error"])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "compress_offline.json").write_text(json.dumps(metrics, indent=1))
    shot(page, "compress_offline_r55")
    assert 0.075 < tsvd < 0.09 and nmd <= 0.01, metrics
    assert not any(offline_server_environment.rglob("*.npz"))  # nothing was downloaded or cached


def _run_task(page, task_label: str | None, run_key: str, name: str) -> None:
    if task_label:
        widget(page, "apps_task").get_by_text(task_label).click()
        wait_for_app(page)
    widget(page, run_key).get_by_role("button").click()
    page.get_by_test_id("stPlotlyChart").first.wait_for(state="visible", timeout=RUN_TIMEOUT_MS)
    wait_for_app(page, timeout_ms=RUN_TIMEOUT_MS)
    no_exception(page)
    expect(outcome(page)).to_contain_text("finished", timeout=RUN_TIMEOUT_MS)
    shot(page, name)


def test_applications_page_runs_its_three_tasks(page, app_url):
    page.goto(f"{app_url}/Applications")
    wait_for_app(page)
    no_exception(page)
    _run_task(page, None, "apps_comp_run", "applications_completion")
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(4)
    _run_task(page, "Distance matrix completion", "apps_dist_run", "applications_distances")
    expect(page.locator(".st-key-apps_dist_shown")).to_be_visible()
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(2)  # live curves, the 3-D points
    _run_task(page, "Threshold similarity embedding", "apps_emb_run", "applications_embedding")
    expect(page.get_by_test_id("stMetricValue")).to_have_count(2)


def test_an_applications_run_survives_clicks_and_page_changes_and_stop_keeps_its_result(page, app_url):
    """Distance completion at 30 % observed (the offset solvers run to their time budget), as on the other
    run pages: a click on the x axis and a visit to Home leave the run going; Stop keeps its curves, table
    and points, labelled; they are there on return."""
    page.goto(app_url)
    wait_for_app(page)
    go_to(page, "Applications")
    widget(page, "apps_task").get_by_text("Distance matrix completion").click()
    wait_for_app(page)
    slider = widget(page, "apps_dist_fraction").get_by_role("slider")
    slider.focus()
    for _ in range(8):                      # 0.70 -> 0.30 observed
        page.keyboard.press("ArrowLeft")
    wait_for_app(page)
    expect(widget(page, "apps_dist_fraction").get_by_test_id("stSliderThumbValue")).to_have_text("0.30")
    set_number(page, "apps_dist_time_limit", 300)
    widget(page, "apps_dist_run").get_by_role("button").click()
    expect_running(page)
    pick_radio(page, "apps_dist_x", "iteration")  # changes neither the run nor its problem
    wait_for_app(page)
    expect_running(page)
    away_and_back(page, "Applications")
    expect_running(page)
    no_exception(page)
    shot(page, "run_apps_live")
    widget(page, "apps_dist_stop").get_by_role("button").click()
    n = stopped_iterations(page)
    assert n >= 1
    expect(page.get_by_test_id("stProgress")).to_have_count(0)
    main = page.get_by_test_id("stMain")
    expect(main.get_by_test_id("stDataFrame")).to_be_visible()
    expect(main).to_contain_text("ground-truth error")
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(2)  # the curves, the 3-D points
    expect(widget(page, "apps_dist_stop").get_by_role("button")).to_be_disabled()
    no_exception(page)
    shot(page, "run_apps_stopped")
    away_and_back(page, "Applications")
    assert stopped_iterations(page) == n
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(2)


def test_stop_during_a_sweep_keeps_its_points(page, app_url):
    """Error versus observed fraction is one run of all its solver calls: Stop keeps the points done."""
    page.goto(f"{app_url}/Applications")
    wait_for_app(page)
    widget(page, "apps_task").get_by_text("Distance matrix completion").click()
    wait_for_app(page)
    set_number(page, "apps_dist_max_iter", 50)
    widget(page, "apps_dist_run").get_by_role("button").click()
    expect(outcome(page)).to_contain_text("finished", timeout=RUN_TIMEOUT_MS)
    wait_for_app(page)
    set_number(page, "apps_dist_sweep_time", 1)
    wait_for_app(page)
    widget(page, "apps_dist_sweep_run").get_by_role("button").click()
    progress = page.get_by_test_id("stProgress").first
    expect(progress).to_contain_text("(5/", timeout=RUN_TIMEOUT_MS)  # four calls of one second done
    widget(page, "apps_dist_sweep_run_stop").get_by_role("button").click()
    main = page.get_by_test_id("stMain")
    expect(main).to_contain_text(re.compile(r"Sweep stopped by you .*: [4-9] of 32 points"), timeout=RUN_TIMEOUT_MS)
    expect(page.get_by_test_id("stProgress")).to_have_count(0)
    expect(widget(page, "apps_dist_sweep_run_stop").get_by_role("button")).to_be_disabled()
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(3)  # curves, points, the sweep
    no_exception(page)
    main.evaluate("main => main.scrollTo(0, main.scrollHeight)")  # the page scrolls inside stMain
    shot(page, "applications_sweep_stopped")
