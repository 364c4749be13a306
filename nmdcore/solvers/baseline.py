"""Truncated SVD, the baseline every ReLU-NMD solver is compared with."""
from __future__ import annotations

import numpy as np

from .._linalg import relu_error, sq_norm
from .._tsvd import randomized_tsvd, tsvd_exact
from .._spec import Hyperparameter, MemoryModel, SolverSpec


def _prepare(problem, init):
    return {}


def _run_tsvd(problem, start, params, monitor):
    X = problem.X
    if params["method"] == "randomized":
        W, H, _ = randomized_tsvd(X, problem.rank, random_state=problem.rng)
    else:
        W, H = tsvd_exact(X, problem.rank)
    theta = W @ H
    work = np.subtract(X, theta)
    lin = np.sqrt(sq_norm(work)) / problem.norm_X
    monitor.record(lin, relu_error(X, theta, problem.norm_X, work))
    monitor.stop_reason = "exact"
    return theta, {"W": W, "H": H}


SPECS = (
    SolverSpec(
        key="tsvd",
        label="TSVD",
        family="baseline",
        model="LRA",
        paper='Eckart & Young (1936), "The approximation of one matrix by another of lower rank", Psychometrika 1(3)',
        objective="‖X − Θ‖_F/‖X‖_F of the best rank-r approximation Θ",
        run=_run_tsvd,
        prepare_start=_prepare,
        memory=MemoryModel(held=2, transient=1.1, setup=3.1),
        pages=("explore",),
        hyperparameters=(
            Hyperparameter("method", "exact", kind="choice", choices=("exact", "randomized"),
                           help="exact (Gram eigendecomposition) or randomized (subspace "
                                "iteration seeded by random_state, for large matrices)"),
        ),
        iterative=False,
        max_rank_inclusive=True,
        description="Best rank-r approximation of X; max(0, ·) applied afterwards.",
        summary=("The best rank-r approximation of X in least squares, with its negative entries set to zero "
                 "afterwards. It is the baseline every ReLU-NMD result is measured against, and the usual "
                 "start of the other solvers."),
    ),
)
