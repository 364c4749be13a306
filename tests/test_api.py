"""The public contract of nmdcore.decompose: validation, results, history, baseline."""
import numpy as np
import pytest
import scipy.sparse as sp

import nmdcore
from nmdcore import (
    HyperparameterError,
    InitError,
    NegativeEntriesError,
    NMDError,
    NonFiniteError,
    RankError,
    ShapeError,
    UnknownSolverError,
    ZeroMatrixError,
)

from tests.helpers import reference_trace


@pytest.fixture
def X():
    rng = np.random.default_rng(0)
    return np.maximum(0, rng.standard_normal((30, 5)) @ rng.standard_normal((5, 20)))


def test_every_error_is_a_value_error():
    for cls in (NonFiniteError, NegativeEntriesError, ShapeError, ZeroMatrixError, RankError,
                UnknownSolverError, HyperparameterError, InitError):
        assert issubclass(cls, NMDError) and issubclass(cls, ValueError)


@pytest.mark.parametrize("bad, exc", [
    (np.array([[1.0, np.nan], [0.0, 1.0]]), NonFiniteError),
    (np.array([[1.0, np.inf], [0.0, 1.0]]), NonFiniteError),
    (np.array([[1.0, -1.0], [0.0, 1.0]]), NegativeEntriesError),
    (np.ones(5), ShapeError),
    (np.ones((2, 2, 2)), ShapeError),
    (np.zeros((0, 4)), ShapeError),
    (np.zeros((4, 4)), ZeroMatrixError),
    (np.array([["a", "b"], ["c", "d"]]), ShapeError),
])
def test_bad_matrices_raise_specific_errors(bad, exc):
    with pytest.raises(exc):
        nmdcore.decompose(bad, 1, solver="tsvd")


def test_sparse_nan_is_refused():
    A = sp.csr_matrix(np.array([[1.0, 0.0], [0.0, np.nan]]))
    with pytest.raises(NonFiniteError):
        nmdcore.decompose(A, 1, solver="tsvd")


@pytest.mark.parametrize("rank", [0, -1, 21, 2.5, "3"])
def test_rank_out_of_range(X, rank):
    with pytest.raises(RankError):
        nmdcore.decompose(X, rank, solver="tsvd")


def test_iterative_solvers_need_rank_below_min_dimension(X):
    for key, spec in nmdcore.SOLVERS.items():
        if spec.iterative and spec.input_kind == "nonnegative":
            with pytest.raises(RankError):
                nmdcore.decompose(X, min(X.shape), solver=key)


def test_tsvd_allows_full_rank(X):
    res = nmdcore.decompose(X, 20, solver="tsvd")
    assert res.history["objective"][0] < 1e-12


def test_unknown_solver_and_hyperparameter(X):
    with pytest.raises(UnknownSolverError, match="available"):
        nmdcore.decompose(X, 2, solver="nope")
    with pytest.raises(HyperparameterError, match="unknown hyperparameter"):
        nmdcore.decompose(X, 2, solver="tsvd", alpha=1.0)


def test_bad_init_and_iteration_settings(X):
    with pytest.raises(InitError):
        nmdcore.decompose(X, 2, solver="tsvd", init="svd")
    with pytest.raises(HyperparameterError):
        nmdcore.decompose(X, 2, solver="tsvd", max_iter=-1)
    with pytest.raises(HyperparameterError):
        nmdcore.decompose(X, 2, solver="tsvd", callback=3)


def test_errors_are_one_line(X):
    with pytest.raises(NMDError) as info:
        nmdcore.decompose(-X, 2, solver="tsvd")
    assert "\n" not in str(info.value)


def test_registry_specs_are_complete():
    assert "tsvd" in nmdcore.SOLVERS
    for key, spec in nmdcore.SOLVERS.items():
        assert spec.key == key and spec.label and spec.family and spec.model and spec.paper
        for h in spec.hyperparameters:
            assert h.help, f"{key}.{h.name} has no help text"
            # every default passes its own validation
            assert h.validate(h.default, key) == h.default


@pytest.mark.parametrize("case", ["lr60x40", "sp50x70", "sym40"])
def test_tsvd_matches_reference(case):
    d = np.load(reference_trace(f"{case}_tsvd"))
    res = nmdcore.decompose(d["X"], int(d["r"]), solver="tsvd")
    assert np.linalg.norm(res.theta - d["Theta"]) <= 1e-10 * np.linalg.norm(d["Theta"])
    assert res.relu_error == pytest.approx(float(d["relu_err"]), rel=1e-10)
    assert res.history["objective"][0] == pytest.approx(float(d["lin_err"]), rel=1e-10)


def test_docstring_example_runs():
    import doctest

    import nmdcore._api

    outcome = doctest.testmod(nmdcore._api)
    assert outcome.attempted > 0 and outcome.failed == 0


def test_result_relu_error_is_a_python_float(X):
    res = nmdcore.decompose(X, 3, solver="tsvd")
    assert type(res.relu_error) is float


def test_symmetry_check_spans_every_block():
    from nmdcore._validation import check_matrix

    rng = np.random.default_rng(3)
    A = rng.random((700, 700))
    M = A + A.T
    assert check_matrix(M, input_kind="symmetric").shape == (700, 700)
    M[650, 20] += 1e-3  # an asymmetry in the last row block only
    with pytest.raises(nmdcore.NotSymmetricError, match="not symmetric"):
        check_matrix(M, input_kind="symmetric")


def test_monitor_treats_a_huge_relu_error_as_divergence():
    from nmdcore._monitor import DIVERGENCE_LIMIT, Monitor

    monitor = Monitor(max_iter=10, tol=0, tol_stall=0, time_limit=None, callback=None)
    assert not monitor.record(1.0, 0.5)
    assert not monitor.record(3.0, DIVERGENCE_LIMIT)  # at the limit: still recorded
    assert monitor.record(1.0, 10 * DIVERGENCE_LIMIT)
    assert monitor.stop_reason == "diverged" and monitor.iteration == 1
    assert monitor.arrays()["relu_error"].tolist() == [0.5, DIVERGENCE_LIMIT]


class _SetAfter:
    """A stop event that reports itself set from its ``calls``-th check on."""

    def __init__(self, calls):
        self.calls, self.checked = calls, 0

    def is_set(self):
        self.checked += 1
        return self.checked >= self.calls


@pytest.mark.parametrize("solver", ["ebcd", "naive", "cd"])
def test_stop_event_ends_the_run_and_keeps_its_point(X, solver):
    import threading
    event = threading.Event()
    event.set()
    res = nmdcore.decompose(X, 5, solver=solver, max_iter=50, stop_event=event, random_state=0)
    assert res.stop_reason == "interrupted"
    assert np.isfinite(res.theta).all() and len(res.history["relu_error"]) == res.n_iter + 1
    late = nmdcore.decompose(X, 5, solver=solver, max_iter=50, stop_event=_SetAfter(4), random_state=0)
    assert late.stop_reason == "interrupted" and 1 <= late.n_iter <= 50


def test_stop_event_must_have_is_set(X):
    with pytest.raises(HyperparameterError, match="stop_event"):
        nmdcore.decompose(X, 5, stop_event=True)
