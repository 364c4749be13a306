"""AppTest stories of the Compress page (Wang, Cui & Han 2024, §III-C), on a small, quickly computed NMF basis."""
from __future__ import annotations

import pytest

import nmdcore
from tests.helpers import finish_runs, open_page, page_run, stop_mid_run


@pytest.fixture
def compress_page(monkeypatch, tmp_path):
    monkeypatch.setenv("NMD_CACHE_DIR", str(tmp_path))  # never touch the user's basis cache
    at = open_page("pages/4_Compress.py", 120)
    assert not at.exception, at.exception
    at.selectbox(key="compress_source").set_value("mnist5k")
    at.number_input(key="compress_nmf_rank").set_value(12)
    at.number_input(key="compress_sweeps").set_value(2).run()
    if any(b.key == "compress_basis" for b in at.button):  # not yet in this server's memory
        at.button(key="compress_basis").click().run()
    assert not at.exception, at.exception
    assert "compress_run" in [b.key for b in at.button]
    return at


def test_opens_on_the_shipped_face_basis_at_r_55(monkeypatch, tmp_path):
    """Offline, with no cache: the faces' basis is there at once, r = 55 chosen, no NMF to run."""
    monkeypatch.setenv("NMD_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "no_sklearn_data"))
    at = open_page("pages/4_Compress.py", 60)
    assert not at.exception, at.exception
    assert at.selectbox(key="compress_source").value == "olivetti"
    assert "compress_basis" not in [b.key for b in at.button]   # nothing to compute
    assert at.caption[1].value.startswith("X (the basis) is 4096×100, 64% zeros")
    assert at.slider(key="compress_rank").value == 55
    assert not list(tmp_path.iterdir())                          # nothing written to the cache


def test_basis_then_default_compression(compress_page):
    at = compress_page
    assert at.caption[1].value.startswith("X (the basis) is 784×12")
    at.number_input(key="compress_max_iter").set_value(40)
    at.button(key="compress_run").click().run()
    finish_runs(at)
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    res = page_run(at, "compress").result
    assert res.rank == 11  # the default 55 clamped to k − 1
    assert float(metrics["TSVD: ReLU error ‖X − max(0, Θ)‖/‖X‖"]) >= 0
    e_tsvd = float(metrics["NMF error with X̂ = max(0, TSVD)"])
    e_nmd = float(metrics[f"NMF error with X̂ = max(0, Θ) of {nmdcore.SOLVERS[res.solver].label}"])
    e_orig = float(metrics["NMF error with the original X"])
    assert all(0 <= e <= 1 for e in (e_tsvd, e_nmd, e_orig))  # V = 0 is feasible: eq. (10) <= 1
    assert len(at.image) == 2  # the basis grid (original / TSVD / ReLU-NMD) and the zoomed difference view


def test_rank_and_solver_change(compress_page):
    at = compress_page
    at.selectbox(key="compress_solver").set_value("ebcd").run()
    at.slider(key="compress_rank").set_value(4)
    at.number_input(key="compress_max_iter").set_value(30)
    at.button(key="compress_run").click().run()
    finish_runs(at)
    assert not at.exception, at.exception
    res = page_run(at, "compress").result
    assert (res.solver, res.rank) == ("ebcd", 4)
    # error versus r
    at.text_input(key="compress_grid").set_value("2, 5").run()
    at.button(key="compress_curve").click().run()
    assert not at.exception, at.exception
    curve = at.session_state["compress_curve_data"]
    assert curve["ranks"] == [2, 5] and len(curve["TSVD"]) == 2


def test_stop_keeps_partial_compression(compress_page):
    at = compress_page
    at.number_input(key="compress_max_iter").set_value(100_000)
    at.number_input(key="compress_time_limit").set_value(300.0)
    at.button(key="compress_run").click().run()
    stop_mid_run(at, "compress", "compress_stop", min_iterations=2)
    assert not at.exception, at.exception
    run = page_run(at, "compress")
    assert run.stopped_by == "you" and 2 <= run.result.n_iter < 100_000
    assert f": {run.result.n_iter} iterations in" in at.success[0].value and "Stopped by you" in at.success[0].value
    assert len(at.image) >= 1 and at.metric  # the basis images and errors of the partial result


