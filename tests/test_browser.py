"""Real-browser tests: `streamlit run app.py` driven by Debian's Chromium through Playwright.

Every page loads with the app's own menu and no exception; a first visit of Explore shows a
finished example run with Run in view; an upload of images works. On every page with a run:
a click on another widget during a run lets it go on, leaving the page and coming back finds
it, Stop keeps its result ("stopped by you after N iterations"); a reload keeps the results
and a closed tab frees the CPU; two browser sessions never see each other's runs.
Screenshots and the measured Stop latencies go to ``test-artifacts/`` (override with
BROWSER_ARTIFACTS). Skips when Playwright or /usr/bin/chromium is missing, unless
REQUIRE_BROWSER=1 (CI), which makes that an error.
"""
from __future__ import annotations

import io
import json
import os
import re
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


#: The server process of this module (its CPU time shows whether a run still works).
SERVER: dict = {}


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """A fresh `streamlit run app.py` on a free port (so the first session is a first session)."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("streamlit") / "server.log"
    env = dict(os.environ, NMD_CACHE_DIR=str(tmp_path_factory.mktemp("nmd_cache")))  # never the user's cache
    cmd = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true",
           "--server.address", "127.0.0.1", "--server.port", str(port),
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
           "--server.runOnSave", "false"]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env)
    SERVER["pid"] = proc.pid
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


def test_first_visit_of_explore_shows_a_finished_example_run_with_run_in_view(browser, app_url):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(UI_TIMEOUT_MS)
        page.goto(f"{app_url}/Explore")
        wait_for_app(page, timeout_ms=RUN_TIMEOUT_MS)  # the example run is computed once per server
        no_exception(page)
        expect(page.get_by_test_id("stAlertContentInfo").first).to_contain_text("example run")
        expect(page.locator(".js-plotly-plot").first).to_be_visible()
        expect(page.get_by_test_id("stImage")).to_have_count(1)  # one labelled grid: original / TSVD / ReLU-NMD
        page.screenshot(path=str(_artifact("explore_first_visit.png")))  # the window as the user sees it
        for key in ("run", "stop"):  # in view without scrolling
            box = widget(page, key).get_by_role("button").bounding_box()
            assert box is not None and box["y"] + box["height"] <= 900, (key, box)
    finally:
        context.close()


def _artifact(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name


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


# -- runs -------------------------------------------------------------------------------------

def set_number(page, key: str, value) -> None:
    """Type into a number input and leave it (inside a form nothing reruns until the submit)."""
    box = widget(page, key).locator("input")
    box.fill(str(value))
    box.press("Tab")


def pick_radio(page, key: str, option: str) -> None:
    widget(page, key).get_by_text(option, exact=True).click()


def pick_option(page, key: str, pattern: str) -> None:
    widget(page, key).click()
    page.get_by_role("option", name=re.compile(pattern)).first.click()


def go_to(page, label: str) -> None:
    page.get_by_test_id("stSidebar").get_by_role("link", name=label, exact=True).click()
    wait_for_app(page, timeout_ms=RUN_TIMEOUT_MS)
    expect(page.get_by_test_id("stMain").get_by_role("heading", name=label, exact=True)).to_be_visible()


def away_and_back(page, label: str) -> None:
    """Go to the (light) home page, then back to ``label``."""
    page.get_by_test_id("stSidebar").get_by_role("link", name="Home", exact=True).click()
    wait_for_app(page)
    expect(page.get_by_test_id("stMain").get_by_role("heading", name="ReLU-NMD Explorer")).to_be_visible()
    go_to(page, label)


def expect_running(page) -> None:
    """The live view: a progress line that counts iterations, and the curve."""
    expect(page.get_by_test_id("stProgress").first).to_contain_text("iteration", timeout=RUN_TIMEOUT_MS)
    expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=RUN_TIMEOUT_MS)


def outcome(page):
    return page.get_by_test_id("stAlertContentSuccess").first


def stopped_iterations(page) -> int:
    """N of "stopped by you after N iterations" on the page."""
    # one run: "…: N iterations in T s. Stopped by you; …"; a sequence: "stopped by you after N iterations of …"
    expect(outcome(page)).to_contain_text(re.compile("stopped by you", re.I), timeout=RUN_TIMEOUT_MS)
    text = outcome(page).inner_text()
    found = re.search(r"(\d+) iterations in [\d.]+ s\. Stopped by you", text) or \
        re.search(r"stopped by you after (\d+) iterations", text)
    assert found, text
    return int(found.group(1))


def setup_compress(page) -> None:
    """A small NMF basis (MNIST, k = 12, 2 sweeps), computed once per server, and eBCD-NMD."""
    pick_option(page, "compress_source", "^MNIST")
    wait_for_app(page)
    set_number(page, "compress_nmf_rank", 12)
    wait_for_app(page)
    set_number(page, "compress_sweeps", 2)
    wait_for_app(page)
    button = widget(page, "compress_basis").get_by_role("button")
    if button.count():
        button.click()
        wait_for_app(page, timeout_ms=RUN_TIMEOUT_MS)
    expect(widget(page, "compress_run")).to_be_visible(timeout=RUN_TIMEOUT_MS)
    pick_option(page, "compress_solver", "^eBCD-NMD")  # A-NMD, the default, stalls within seconds on so small a U
    wait_for_app(page)


def slider_to_end(page, key: str, end: str = "End") -> None:
    slider = widget(page, key).get_by_role("slider")
    slider.focus()
    page.keyboard.press(end)


def setup_symmetric(page) -> None:
    """n = 500 and r = 60: the symmetric solvers take far longer than the test (at n = 150 they stall in seconds)."""
    slider_to_end(page, "sym_n")
    wait_for_app(page)
    expect(page.get_by_test_id("stMain")).to_contain_text("500×500")
    slider_to_end(page, "sym_rank")


def setup_dynamics(page) -> None:
    """κ = 100 and a small step: gradient descent takes far longer than the test."""
    slider_to_end(page, "dyn_kappa")
    wait_for_app(page)
    expect(widget(page, "dyn_kappa")).to_contain_text("100")
    slider_to_end(page, "dyn_gd_step", "Home")


#: Every page with a run: its menu label, widget-key prefix, Run and Stop keys, the setup before a
#: long run, a click that changes neither the run nor its inputs, and what its result shows.
RUN_PAGES = [
    dict(label="Explore", prefix="explore", run="run", stop="stop", setup=None,
         unrelated=lambda page: pick_radio(page, "explore_x", "time"),
         result=lambda page: (expect(page.get_by_test_id("stImage")).to_have_count(1),
                              expect(page.get_by_test_id("stDownloadButton").first).to_be_visible())),
    dict(label="Compare", prefix="compare", run="compare_run", stop="compare_stop", setup=None,
         unrelated=lambda page: pick_radio(page, "compare_x", "iteration"),
         result=lambda page: expect(page.get_by_test_id("stDataFrame")).to_be_visible()),
    dict(label="Compress", prefix="compress", run="compress_run", stop="compress_stop", setup=setup_compress,
         unrelated=lambda page: pick_option(page, "compress_solver", "^A-NMD"),
         result=lambda page: (expect(page.get_by_test_id("stImage").first).to_be_visible(),
                              expect(page.get_by_test_id("stMetricValue").first).to_be_visible())),
    dict(label="Symmetric", prefix="sym", run="sym_run", stop="sym_stop", setup=setup_symmetric,
         unrelated=lambda page: pick_radio(page, "sym_x", "iteration"),
         result=lambda page: expect(page.get_by_test_id("stDataFrame")).to_be_visible()),
    dict(label="Factorization dynamics", prefix="dyn", run="dyn_run", stop="dyn_stop", setup=setup_dynamics,
         unrelated=lambda page: widget(page, "dyn_log").locator("label").click(),
         result=lambda page: expect(page.get_by_test_id("stPlotlyChart")).to_have_count(3)),
]


def start_long_run(page, spec: dict) -> None:
    """Budgets far beyond the test (100 000 iterations, 300 s), then Run."""
    set_number(page, f"{spec['prefix']}_max_iter", 100_000)
    set_number(page, f"{spec['prefix']}_time_limit", 300)
    widget(page, spec["run"]).get_by_role("button").click()
    expect_running(page)


@pytest.mark.parametrize("spec", RUN_PAGES, ids=[s["label"] for s in RUN_PAGES])
def test_a_run_survives_clicks_and_page_changes_and_stop_keeps_its_result(page, app_url, spec):
    page.goto(app_url)
    wait_for_app(page)
    go_to(page, spec["label"])
    if spec["setup"]:
        spec["setup"](page)
    page.get_by_test_id("stMain").evaluate("main => main.scrollTo(0, 0)")
    for key in (spec["run"], spec["stop"]):  # both in view on a 1400×900 window without scrolling
        box = widget(page, key).get_by_role("button").bounding_box()
        assert box is not None and box["y"] + box["height"] <= 900, (key, box)
    start_long_run(page, spec)
    # a click that changes neither the run nor its inputs: the run goes on
    spec["unrelated"](page)
    wait_for_app(page)
    expect_running(page)
    # leave the page and come back: the run is still there, still running
    away_and_back(page, spec["label"])
    expect_running(page)
    no_exception(page)
    shot(page, f"run_{spec['prefix']}_live")
    # Stop: the run ends at its next iteration and its result stays, labelled
    clicked = time.perf_counter()
    widget(page, spec["stop"]).get_by_role("button").click()
    n = stopped_iterations(page)
    latency = time.perf_counter() - clicked
    assert n >= 1
    expect(page.get_by_test_id("stProgress")).to_have_count(0)
    spec["result"](page)
    expect(widget(page, spec["stop"]).get_by_role("button")).to_be_disabled()
    no_exception(page)
    shot(page, f"run_{spec['prefix']}_stopped")
    # and it is still there after a visit elsewhere
    away_and_back(page, spec["label"])
    assert stopped_iterations(page) == n
    spec["result"](page)
    record = _artifact("stop_latency.json")
    latencies = json.loads(record.read_text()) if record.exists() else {}
    latencies[spec["label"]] = {"click_to_stopped_result_s": round(latency, 3), "iterations": n}
    record.write_text(json.dumps(latencies, indent=1))


def test_stop_ends_a_long_cd_nmd_iteration_inside_it(page, app_url):
    """CD-NMD on the MNIST sample at r = 50 takes seconds per iteration. Stop, clicked just after
    an iteration has begun, ends the run inside that iteration (its sweeps check for Stop between
    blocks), well before the iteration would end, and keeps the result."""
    page.goto(f"{app_url}/Explore")
    wait_for_app(page)
    _choose(page, "explore_solver", "CD-NMD — LS-RMD")
    widget(page, "rank").get_by_role("slider").focus()
    for _ in range(30):  # 20 -> 50: longer iterations
        page.keyboard.press("ArrowRight")
    expect(widget(page, "rank").get_by_test_id("stSliderThumbValue")).to_have_text("50")
    start_long_run(page, RUN_PAGES[0])
    progress = page.get_by_test_id("stProgress").first
    expect(progress).to_contain_text(re.compile(r"iteration 1 ·"), timeout=RUN_TIMEOUT_MS)
    began = time.perf_counter()
    expect(progress).to_contain_text(re.compile(r"iteration 2 ·"), timeout=RUN_TIMEOUT_MS)
    iteration_s = time.perf_counter() - began  # one iteration as the page shows it (±0.5 s of redraw)
    clicked = time.perf_counter()  # at most one redraw after iteration 3 began
    widget(page, "stop").get_by_role("button").click()
    n = stopped_iterations(page)
    latency = time.perf_counter() - clicked
    assert n >= 2
    assert latency < 0.5 * iteration_s, (latency, iteration_s)
    expect(page.get_by_test_id("stImage")).to_have_count(1)
    no_exception(page)
    shot(page, "run_explore_cd_stopped")
    record = _artifact("stop_latency.json")
    latencies = json.loads(record.read_text()) if record.exists() else {}
    latencies["Explore, CD-NMD r = 50"] = {"click_to_stopped_result_s": round(latency, 3), "iterations": n,
                                          "iteration_s": round(iteration_s, 3)}
    record.write_text(json.dumps(latencies, indent=1))


def _server_cpu_s() -> float:
    """User + system CPU seconds of the server process so far (Linux /proc)."""
    fields = Path(f"/proc/{SERVER['pid']}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_share(seconds: float) -> float:
    before, start = _server_cpu_s(), time.monotonic()
    time.sleep(seconds)
    return (_server_cpu_s() - before) / (time.monotonic() - start)


def test_a_reload_keeps_the_result_and_a_closed_tab_frees_the_cpu(browser, app_url):
    if not Path(f"/proc/{SERVER['pid']}/stat").exists():
        pytest.skip("needs Linux /proc to read the server's CPU time")
    context = browser.new_context(viewport={"width": 1400, "height": 2000})
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    page.goto(f"{app_url}/Explore")
    wait_for_app(page, timeout_ms=RUN_TIMEOUT_MS)
    start_long_run(page, RUN_PAGES[0])
    # a reload is a new session: the old one's run stops, and its result is found again through the URL
    assert "run=" in page.url
    page.reload()
    wait_for_app(page, timeout_ms=RUN_TIMEOUT_MS)
    expect(outcome(page)).to_contain_text("browser tab was closed or reloaded", timeout=RUN_TIMEOUT_MS)
    expect(page.get_by_test_id("stImage")).to_have_count(1)
    no_exception(page)
    shot(page, "run_after_reload")
    # closing the tab during a run frees the CPU at the solver's next iteration
    start_long_run(page, RUN_PAGES[0])
    busy = _cpu_share(3.0)
    context.close()
    time.sleep(2.0)  # the disconnect, the next session check (0.5 s) and the iteration in progress
    idle = _cpu_share(3.0)
    # relative to the share the run had, as the machine's other load limits both
    assert idle < 0.1 and idle < busy / 3, f"the server used {busy:.0%} of a core running, {idle:.0%} after the close"


def _explore_session(browser, app_url):
    """A new browser context (a new Streamlit session) on Explore with the synthetic ReLU low-rank matrix."""
    context = browser.new_context(viewport={"width": 1400, "height": 2000})
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    page.goto(f"{app_url}/Explore")
    wait_for_app(page, timeout_ms=RUN_TIMEOUT_MS)
    pick_option(page, "dataset", "^Synthetic ReLU low-rank")
    wait_for_app(page)
    return context, page


def test_two_browser_sessions_never_see_each_others_runs(browser, app_url):
    contexts = []
    try:
        context, first = _explore_session(browser, app_url)
        contexts.append(context)
        start_long_run(first, RUN_PAGES[0])
        # a second session on the same server, same page and data, while the first one's run goes on
        context, second = _explore_session(browser, app_url)
        contexts.append(context)
        expect(second.get_by_test_id("stAlertContentInfo").first).to_contain_text("press Run")
        expect(second.get_by_test_id("stProgress")).to_have_count(0)
        expect(widget(second, "stop").get_by_role("button")).to_be_disabled()
        set_number(second, "explore_max_iter", 20)
        widget(second, "run").get_by_role("button").click()
        expect(outcome(second)).to_contain_text(": 20 iterations in", timeout=RUN_TIMEOUT_MS)
        expect_running(first)  # untouched by the second session's run
        widget(first, "stop").get_by_role("button").click()
        assert stopped_iterations(first) != 20
        second.reload()  # the second session's own result, found again after a reload, is still its own
        wait_for_app(second)
        pick_option(second, "dataset", "^Synthetic ReLU low-rank")  # a reload starts from the default dataset
        wait_for_app(second)
        expect(outcome(second)).to_contain_text(": 20 iterations in")
        for page in (first, second):
            no_exception(page)
    finally:
        for context in contexts:
            context.close()


def _choose(page, key: str, option: str) -> None:
    widget(page, key).click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_for_app(page, timeout_ms=RUN_TIMEOUT_MS)


def _dataset_title(name: str) -> str:
    from nmdcore import datasets

    return next(e.title for e in datasets.available() if e.name == name)


def test_rank_survives_the_5x5_example_and_controls_follow_the_spec(page, app_url):
    """The rank asked for on a large matrix is clamped on the 5×5 example and comes back after it;
    λ of NMD-TM is a log slider that reads in plain numbers, and α, β (NMD-TM, eBCD-NMD, A-NMD) are sliders."""
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
    for key in ("explore_nmd_tm_lam", "explore_nmd_tm_alpha", "explore_nmd_tm_beta"):
        expect(widget(page, key).get_by_role("slider")).to_have_count(1)
    no_exception(page)
    shot(page, "controls_nmd_tm")
    for label, key in (("eBCD-NMD — 3B-RMD", "explore_ebcd_alpha"), ("A-NMD — Latent-RMD", "explore_a_nmd_beta")):
        _choose(page, "explore_solver", label)
        expect(widget(page, key).get_by_role("slider")).to_have_count(1)
    no_exception(page)
