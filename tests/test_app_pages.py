"""Every page of the app loads under AppTest with no exception; the Learn page's stories."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ui.layout import PAGES

REPO = Path(__file__).resolve().parents[1]


def open_page(path: str, timeout: float = 90) -> AppTest:
    """A fresh session on ``path``, reached from the entry point as a user would."""
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=timeout).run()
    assert not at.exception, at.exception
    if path != "app.py":
        at.switch_page(path).run()
    return at


def page_run(at: AppTest, slot: str):
    """The run in ``slot`` of the AppTest session (None when it has none)."""
    from ui import runs

    token = at.session_state[runs.TOKEN_KEY] if runs.TOKEN_KEY in at.session_state else None
    return None if token is None else runs.find(token, slot)


def finish_runs(at: AppTest, timeout: float = 120) -> AppTest:
    """Wait for the session's runs to end, then rerun the page as the live view's last refresh does."""
    from ui import runs

    assert runs.join_all(at.session_state[runs.TOKEN_KEY], timeout), f"runs still going after {timeout} s"
    return at.run()


def stop_mid_run(at: AppTest, slot: str, stop_key: str, min_iterations: int = 3, timeout: float = 60) -> AppTest:
    """Wait until the running run of ``slot`` has done ``min_iterations``, then press its Stop button."""
    import time

    run = page_run(at, slot)
    assert run is not None and run.running, "no run is going"
    deadline = time.monotonic() + timeout
    while sum(len(h["objective"]) - 1 for _, h in run.histories()) < min_iterations:
        assert run.running and time.monotonic() < deadline, "the run ended before it could be stopped"
        time.sleep(0.05)
    at.button(key=stop_key).click().run()
    return finish_runs(at)


@pytest.mark.parametrize("path", [p for p, _, _ in PAGES])
def test_page_loads_without_exception(path):
    assert (REPO / path).exists(), f"{path} is listed in ui.layout.PAGES but missing"
    at = open_page(path)
    assert not at.exception, at.exception
    assert at.title, "every page has a title"


def test_seed_persists_across_pages():
    at = open_page("pages/1_Learn.py")
    at.sidebar.number_input(key="seed").set_value(7).run()
    at.switch_page("pages/2_Explore.py").run()
    assert at.sidebar.number_input(key="seed").value == 7
    at.sidebar.selectbox(key="dataset").set_value("digits").run()
    at.switch_page("pages/1_Learn.py").run()
    at.switch_page("pages/3_Compare.py").run()
    assert not at.exception, at.exception
    assert at.sidebar.selectbox(key="dataset").value == "digits"
    assert at.sidebar.number_input(key="seed").value == 7


def test_learn_example_is_rank_5_from_rank_2():
    at = open_page("pages/1_Learn.py")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["rank Θ"] == "2" and metrics["rank X"] == "5"


def test_learn_rank_slider_moves_errors():
    at = open_page("pages/1_Learn.py")
    before = {m.label: m.value for m in at.metric}
    at.slider(key="learn_rank").set_value(4).run()
    assert not at.exception, at.exception
    after = {m.label: m.value for m in at.metric}
    assert after["rank of Θ"] == "4"
    assert float(after["TSVD: ReLU error"]) < float(before["TSVD: ReLU error"])
    # the planted rank is 4: the ReLU-NMD fits X almost exactly there, far better than TSVD
    assert float(after["ReLU-NMD: ReLU error"]) < 0.05 < float(after["TSVD: ReLU error"])


@pytest.mark.parametrize("path, families", [
    ("pages/3_Compare.py", ("latent", "three_block", "coordinate", "factorization")),
    ("pages/4_Compress.py", ("latent", "three_block", "coordinate")),
    ("pages/5_Symmetric.py", ("symmetric",)),
    ("pages/6_Factorization_dynamics.py", ("factorization",)),
])
def test_page_says_so_when_its_solver_family_is_missing(monkeypatch, path, families):
    import nmdcore

    # the app reads nmdcore.SOLVERS: hand it a registry without those families (the real one is untouched)
    monkeypatch.setattr(nmdcore, "SOLVERS", {k: s for k, s in nmdcore.SOLVERS.items() if s.family not in families})
    at = open_page(path)
    assert not at.exception, at.exception
    assert any("is not in nmdcore yet" in i.value for i in at.info), [i.value for i in at.info]
    assert not at.get("plotly_chart")
