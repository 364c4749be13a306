"""A solver added with ``nmdcore.register`` from a module of its own is offered, estimated and benchmarked
with no edit to ``ui/``, ``pages/`` or ``benchmarks/`` (the recipe of docs/adding_a_solver.md)."""
from __future__ import annotations

import importlib
import json
import sys
import textwrap

import numpy as np
import pytest

import nmdcore
from tests.helpers import finish_runs, open_page, page_run

#: A small but real solver: Naive-NMD's alternating projections with a full SVD, in a module
#: written to a temporary folder, as a user's own package would be.
TOY_MODULE = '''
import numpy as np

import nmdcore
from nmdcore._linalg import relu_error
from nmdcore._starts import factor_start, start_array


def prepare(problem, init):
    if isinstance(init, str):
        W, H = factor_start(problem, init)
        return {"theta": W @ H}
    return {"theta": start_array(init, "theta", problem.shape, problem)}


def run(problem, start, params, monitor):
    theta, r, X = start["theta"], problem.rank, problem.X
    if monitor.record(relu_error(X, theta, problem.norm_X), relu_error(X, theta, problem.norm_X)):
        return theta, {}
    while True:
        Z = problem.project(theta)
        U, s, Vt = np.linalg.svd(Z, full_matrices=False)
        new = (U[:, :r] * (params["shrink"] * s[:r])) @ Vt[:r]
        error = relu_error(X, new, problem.norm_X)
        if monitor.record(error, error):
            return (theta if monitor.stop_reason == "diverged" else new), {}
        theta = new


SPEC = nmdcore.register(nmdcore.SolverSpec(
    key="toy_svd", label="Toy SVD-NMD", family="latent", model="Latent-RMD",
    paper="a test of nmdcore.register", objective="ReLU error", run=run, prepare_start=prepare,
    hyperparameters=(nmdcore.Hyperparameter("shrink", 1.0, low=0.5, high=1.0, symbol="s",
                                            help="factor on the kept singular values"),),
    start_names=("theta",), required_start=("theta",),
    memory=nmdcore.MemoryModel(held=3, transient=3),
    pages=("explore", "compare"),
))
'''


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """Import the toy module from a temporary folder; unregister it afterwards."""
    (tmp_path / "toy_solver_module.py").write_text(textwrap.dedent(TOY_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("toy_solver_module", None)
    try:
        yield importlib.import_module("toy_solver_module").SPEC
    finally:
        nmdcore.SOLVERS.pop("toy_svd", None)
        sys.modules.pop("toy_solver_module", None)


def test_register_adds_the_solver_and_decompose_runs_it(toy):
    assert nmdcore.SOLVERS["toy_svd"] is toy
    X = np.maximum(0, np.random.default_rng(0).standard_normal((30, 3)) @ np.random.default_rng(1).standard_normal((3, 20)))
    res = nmdcore.decompose(X, 3, "toy_svd", max_iter=30)
    assert res.solver == "toy_svd" and res.relu_error < res.history["relu_error"][0]
    with pytest.raises(nmdcore.HyperparameterError):
        nmdcore.decompose(X, 3, "toy_svd", shrink=2.0)


def test_register_refuses_what_is_not_a_new_solver(toy):
    with pytest.raises(ValueError, match="already registered"):
        nmdcore.register(nmdcore.SolverSpec(**{**toy.__dict__, "label": "another"}))
    assert nmdcore.register(toy) is toy  # the same spec again is a no-op
    with pytest.raises(TypeError):
        nmdcore.register("toy_svd")
    with pytest.raises(ValueError, match="identifier"):
        nmdcore.register(nmdcore.SolverSpec(**{**toy.__dict__, "key": "toy svd"}))
    with pytest.raises(ValueError, match="unknown page"):
        nmdcore.SolverSpec(**{**toy.__dict__, "pages": ("explorer",)})


def test_the_memory_estimate_reads_the_registered_model(toy):
    m, n, r = 5000, 700, 10
    estimate = nmdcore.estimate_memory((m, n), r, "toy_svd", np.float32)
    arrays = (estimate - nmdcore._memory.SCRATCH_BYTES) / (4 * m * n)
    assert arrays == pytest.approx(6 + nmdcore._memory.FACTOR_COPIES * (m + n) * r / (m * n))


def test_explore_offers_and_runs_the_registered_solver(toy):
    at = open_page("pages/2_Explore.py")
    at.sidebar.selectbox(key="dataset").set_value("relu_lowrank").run()
    box = at.selectbox(key="explore_solver")
    assert "Toy SVD-NMD — Latent-RMD" in box.options, box.options
    box.set_value("toy_svd").run()
    assert not at.exception, at.exception
    assert at.slider(key="explore_toy_svd_shrink").value == 1.0  # its control, from its spec
    at.slider(key="explore_toy_svd_shrink").set_value(0.9)
    at.number_input(key="explore_max_iter").set_value(5)
    at.button(key="run").click().run()
    assert not at.exception, at.exception
    finish_runs(at)
    assert not at.exception, at.exception
    res = page_run(at, "explore").result
    assert res.solver == "toy_svd" and res.params == {"shrink": 0.9} and res.n_iter == 5


def test_the_benchmark_harness_runs_the_registered_solver(toy, tmp_path):
    from benchmarks import run

    run.main(["--smoke", "--no-plot", "--out", str(tmp_path), "--solvers", "toy_svd"])
    for part in run.PARTS:
        records = json.loads((tmp_path / f"{part}.json").read_text())["records"]
        assert {r["variant"] for r in records} == {"toy_svd"}
        assert all(r["status"] == "ok" for r in records), [(r["variant"], r["status"]) for r in records]
    memory = json.loads((tmp_path / "memory.json").read_text())["records"]
    assert all(r["model_held"] == 3 - 1 for r in memory)  # the spec's 3, less the copy of X that is not made
