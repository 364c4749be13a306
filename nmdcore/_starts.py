"""Starting points: the papers' TSVD and rescaled random starts, and explicit arrays."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ._errors import InitError
from ._tsvd import tsvd_exact
from ._problem import Problem

INIT_NAMES = ("tsvd", "random")


def check_init(init, spec) -> None:
    """Raise InitError unless ``init`` is a known name or a mapping of arrays."""
    if isinstance(init, str):
        if init not in INIT_NAMES:
            raise InitError(f"init must be one of {list(INIT_NAMES)} or a mapping of arrays, got {init!r}")
        return
    if not isinstance(init, Mapping):
        raise InitError(f"init must be one of {list(INIT_NAMES)} or a mapping of arrays, got {type(init).__name__}")
    unknown = sorted(set(init) - set(spec.start_names))
    if unknown:
        raise InitError(f"{spec.key}: unknown start array {unknown[0]!r} (accepted: {', '.join(spec.start_names)})")
    missing = [name for name in spec.required_start if name not in init]
    if missing:
        raise InitError(f"{spec.key}: an explicit start needs {', '.join(spec.required_start)}; missing {missing[0]!r}")


def start_array(init: Mapping, name: str, shape: tuple, problem: Problem) -> np.ndarray:
    """Copy of the explicit start ``init[name]`` as a finite array of the working dtype and ``shape``."""
    try:
        A = np.array(init[name], dtype=problem.dtype, order="C", copy=True)
    except (TypeError, ValueError) as exc:
        raise InitError(f"start array {name!r} is not numeric: {exc}") from None
    if A.shape != tuple(shape):
        raise InitError(f"start array {name!r} must have shape {tuple(shape)}, got {A.shape}")
    if not np.isfinite(A).all():
        raise InitError(f"start array {name!r} has NaN or infinite entries")
    return A


def tsvd_factors(problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    """``W0 = U_r``, ``H0 = Σ_r V_rᵀ`` of X (the NMD-TM paper's start)."""
    return tsvd_exact(problem.X, problem.rank)


def random_factors(problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    """The papers' rescaled random start: N(0, 1) factors with ‖W0‖_F = ‖H0‖_F = ‖X‖_F^{1/2}."""
    m, n = problem.shape
    r = problem.rank
    W = problem.rng.standard_normal((m, r))
    H = problem.rng.standard_normal((r, n))
    scale = np.sqrt(problem.norm_X)
    W *= scale / np.linalg.norm(W)
    H *= scale / np.linalg.norm(H)
    return W.astype(problem.dtype), H.astype(problem.dtype)


def factor_start(problem: Problem, init) -> tuple[np.ndarray, np.ndarray]:
    """``(W0, H0)`` for ``init`` = "tsvd" or "random"."""
    return tsvd_factors(problem) if init == "tsvd" else random_factors(problem)


def balanced_tsvd_factors(problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    """``W0 = U_r Σ_r^{1/2}``, ``H0 = Σ_r^{1/2} V_rᵀ`` of X: the TSVD split evenly between the factors."""
    W, H = tsvd_factors(problem)
    root = np.sqrt(np.sqrt(np.einsum("ij,ij->i", H, H, dtype=np.float64)))  # √σ_k, σ_k = ‖H[k, :]‖
    inverse = np.divide(1.0, root, out=np.zeros_like(root), where=root > 0)
    W *= root.astype(W.dtype)
    H *= inverse.astype(H.dtype)[:, None]
    return W, H


def latent_array(X: np.ndarray, Z0) -> tuple[np.ndarray, bool]:
    """A solver's m×n latent array for the start Z0, and whether it still has to be filled with X.

    A given ``Z0`` is already the solver's own copy (:func:`start_array`) and is used as it
    is. For Z0 = X (``Z0`` None) the array is left empty: the solver's first pass fills it
    with X while the rows are in cache (the compiled kernels row by row, the NumPy path block
    by block), on every core, instead of a serial copy before it.
    """
    if Z0 is not None:
        return Z0, False
    return np.empty_like(X), True
