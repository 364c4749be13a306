"""Real-browser tests: `streamlit run app.py` driven by Debian's Chromium through Playwright.

Every page loads with the app's own menu and no exception; the default Explore run completes
and draws its curve and images; an upload of images works. Screenshots go to
``test-artifacts/`` (override with BROWSER_ARTIFACTS). Skips when Playwright or
/usr/bin/chromium is missing, unless REQUIRE_BROWSER=1 (CI), which makes that an error.
"""
from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "app.py"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SERVER_START_TIMEOUT_S = 60
UI_TIMEOUT_MS = 30_000
RUN_TIMEOUT_MS = 120_000
ARTIFACTS = Path(os.environ.get("BROWSER_ARTIFACTS", REPO / "test-artifacts"))

pytestmark = pytest.mark.browser

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the environment
    sync_playwright = None


def _missing_browser_reason() -> str | None:
    if sync_playwright is None:
        return "python package 'playwright' not installed"
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} not found (apt-get install -y chromium)"
    return None


_reason = _missing_browser_reason()
if _reason and os.environ.get("REQUIRE_BROWSER") == "1":
    raise RuntimeError(f"browser tests required but unavailable: {_reason}")
if _reason:
    pytest.skip(_reason, allow_module_level=True)

from ui.layout import PAGES  # noqa: E402  (after the skip)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """A fresh `streamlit run app.py` on a free port (so the first session is a first session)."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("streamlit") / "server.log"
    cmd = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true",
           "--server.address", "127.0.0.1", "--server.port", str(port),
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
           "--server.runOnSave", "false"]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
                    if r.read() == b"ok":
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not come up on {url}:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()  # our own child, by PID
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        if log_path.exists():
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            (ARTIFACTS / "server.log").write_text(log_path.read_text())


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, timeout=30_000)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser, app_url):
    """A fresh browser context per test = a fresh Streamlit session."""
    context = browser.new_context(viewport={"width": 1400, "height": 2000})  # the app scrolls inside stMain: a tall viewport shows whole pages
    pg = context.new_page()
    pg.set_default_timeout(UI_TIMEOUT_MS)
    yield pg
    context.close()


def wait_for_app(page, settle_ms: int = 300, timeout_ms: int = UI_TIMEOUT_MS) -> None:
    """Wait until the websocket is connected, the script run has finished and nothing is loading."""
    page.wait_for_timeout(settle_ms)
    page.locator("[data-testid='stApp'][data-test-connection-state='CONNECTED']").wait_for(
        state="attached", timeout=timeout_ms)
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(
        state="attached", timeout=timeout_ms)
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0, timeout=timeout_ms)


def widget(page, key: str):
    return page.locator(f".st-key-{key}")


def shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def no_exception(page) -> None:
    assert page.get_by_test_id("stException").count() == 0, page.get_by_test_id("stException").first.inner_text()


def test_first_session_shows_the_app_menu_and_every_page_loads(page, app_url):
    """Runs first on a fresh server: the menu must be ours (labels), never Streamlit's file-name menu."""
    page.goto(app_url)
    wait_for_app(page)
    sidebar = page.get_by_test_id("stSidebar")
    assert page.get_by_test_id("stSidebarNav").count() == 0, "Streamlit's built-in page menu is showing"
    links = sidebar.get_by_test_id("stPageLink")
    expect(links).to_have_count(len(PAGES))
    texts = [t.strip() for t in links.all_inner_texts()]
    # each link is an icon (a Material ligature, e.g. "home") then its label
    assert [t.splitlines()[-1].strip() for t in texts] == [label for _, label, _ in PAGES], texts
    shot(page, "home")
    for path, label, _ in PAGES[1:]:
        sidebar.get_by_role("link", name=label, exact=True).click()
        wait_for_app(page, timeout_ms=RUN_TIMEOUT_MS)
        expect(page.get_by_test_id("stMain").get_by_role("heading", name=label, exact=True)).to_be_visible()
        no_exception(page)
        shot(page, Path(path).stem.split("_", 1)[1].lower())


def test_default_explore_run_draws_curve_and_images(page, app_url):
    page.goto(f"{app_url}/Explore")
    wait_for_app(page)
    no_exception(page)
    clicked = time.perf_counter()
    widget(page, "run").get_by_role("button").click()
    # the live curve appears while the solver runs
    page.get_by_test_id("stPlotlyChart").first.wait_for(state="visible", timeout=RUN_TIMEOUT_MS)
    first_curve_s = time.perf_counter() - clicked
    wait_for_app(page, timeout_ms=RUN_TIMEOUT_MS)
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text("iterations in")
    expect(page.locator(".js-plotly-plot").first).to_be_visible()
    expect(page.get_by_test_id("stImage")).to_have_count(1)  # one labelled grid: original / TSVD / ReLU-NMD
    expect(page.get_by_test_id("stMetricValue").first).to_be_visible()
    no_exception(page)
    metrics = dict(zip(page.get_by_test_id("stMetricLabel").all_inner_texts(),
                       page.get_by_test_id("stMetricValue").all_inner_texts()))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "explore_run.json").write_text(json.dumps(
        {"browser_click_to_first_curve_s": first_curve_s, "metrics": metrics}, indent=1))
    shot(page, "explore_run")


def _png(seed: int) -> bytes:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    arr = (rng.random((24, 20)) > 0.5) * rng.integers(60, 255, (24, 20))
    buf = io.BytesIO()
    Image.fromarray(arr.astype("uint8"), mode="L").save(buf, format="PNG")
    return buf.getvalue()


def test_upload_of_images_works(page, app_url, tmp_path):
    paths = []
    for i in range(8):
        p = tmp_path / f"face{i}.png"
        p.write_bytes(_png(i))
        paths.append(str(p))
    page.goto(f"{app_url}/Explore")
    wait_for_app(page)
    widget(page, "dataset").click()
    page.get_by_role("option", name="Your files (upload)…").click()
    wait_for_app(page)
    widget(page, "upload").get_by_test_id("stFileUploaderDropzoneInput").set_input_files(paths)
    wait_for_app(page)
    expect(page.get_by_test_id("stMain")).to_contain_text("X is 480×8 (8 images of 24×20 px)")
    no_exception(page)
    # the default rank (20) is clamped to min(m, n) − 1 = 7 for 8 images
    expect(widget(page, "rank").get_by_test_id("stSliderThumbValue")).to_have_text("7")
    widget(page, "run").get_by_role("button").click()
    wait_for_app(page, timeout_ms=RUN_TIMEOUT_MS)
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text("r = 7")
    expect(page.get_by_test_id("stImage")).to_have_count(1)
    no_exception(page)
    shot(page, "upload")
    # a broken file added to the good ones is skipped with its reason; the page keeps working
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image")
    widget(page, "upload").get_by_test_id("stFileUploaderDropzoneInput").set_input_files([str(bad)])
    wait_for_app(page)
    expect(page.get_by_test_id("stAlertContentWarning").first).to_contain_text("broken.png")
    no_exception(page)


@pytest.mark.parametrize("path, run_key, shot_name", [
    ("Compare", "compare_run", "compare_run"),
    ("Symmetric", "sym_run", "symmetric_run"),
    ("Factorization_dynamics", "dyn_run", "dynamics_run"),
])
def test_page_default_runs_draw_results(page, app_url, path, run_key, shot_name):
    """The default run of the other solver pages, for their screenshots."""
    page.goto(f"{app_url}/{path}")
    wait_for_app(page)
    widget(page, run_key).get_by_role("button").click()
    wait_for_app(page, timeout_ms=RUN_TIMEOUT_MS)
    expect(page.get_by_test_id("stAlertContentSuccess").first).to_be_visible()
    expect(page.locator(".js-plotly-plot").first).to_be_visible()
    no_exception(page)
    shot(page, shot_name)


def _choose(page, key: str, option: str) -> None:
    widget(page, key).click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_for_app(page, timeout_ms=RUN_TIMEOUT_MS)


def _dataset_title(name: str) -> str:
    from nmdcore import datasets

    return next(e.title for e in datasets.available() if e.name == name)


def test_rank_survives_the_5x5_example_and_controls_follow_the_spec(page, app_url):
    """The rank asked for on a large matrix is clamped on the 5×5 example and comes back after it;
    λ of NMD-TM is a log slider that reads in plain numbers."""
    page.goto(f"{app_url}/Explore")
    wait_for_app(page)
    _choose(page, "dataset", _dataset_title("relu_lowrank"))
    rank = widget(page, "rank").get_by_role("slider")
    rank.focus()
    for _ in range(5):  # 20 -> 15
        page.keyboard.press("ArrowLeft")
    expect(widget(page, "rank").get_by_test_id("stSliderThumbValue")).to_have_text("15")
    widget(page, "run").get_by_role("button").click()  # the slider sits in the run form
    wait_for_app(page, timeout_ms=RUN_TIMEOUT_MS)
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text("r = 15")
    _choose(page, "dataset", _dataset_title("example_5x5"))
    expect(widget(page, "rank").get_by_test_id("stSliderThumbValue")).to_have_text("4")
    shot(page, "rank_on_5x5")
    _choose(page, "dataset", _dataset_title("relu_lowrank"))
    expect(widget(page, "rank").get_by_test_id("stSliderThumbValue")).to_have_text("15")
    _choose(page, "explore_solver", "NMD-TM — 3B-T")
    expect(widget(page, "explore_nmd_tm_lam").get_by_test_id("stSliderThumbValue")).to_have_text("0.0001")
    no_exception(page)
    shot(page, "controls_nmd_tm")
