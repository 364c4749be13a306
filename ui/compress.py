"""Helpers of the Compress page: the NMF basis (cached per server) and the error of eq. (10)."""
from __future__ import annotations

import numpy as np
import scipy.linalg as sla
import streamlit as st
from scipy.optimize import nnls

import nmdcore

#: Columns of M used by eq. (10): all of them up to this many, else this many evenly spaced.
EQ10_MAX_COLUMNS = 500


@st.cache_resource
def _bases() -> dict:
    return {}


def nmf_basis(source: str, rank: int, sweeps: int, progress=None):
    """The sparse NMF basis of ``source`` (U, the data M, image shape), computed once per server.

    ``progress(fraction, message)`` is called while it is computed; the engine also keeps
    it on disk, so a later server reads it back at once.
    """
    from nmdcore import datasets

    key = (source, rank, sweeps)
    store = _bases()
    if key not in store:
        basis = datasets.load("nmf_basis", source=source, rank=rank, max_iter=sweeps, progress=progress)
        faces = datasets.load("olivetti" if source == "olivetti" else "mnist5k")
        U = np.ascontiguousarray(basis.X)
        U.setflags(write=False)
        store[key] = {"U": U, "M": faces.X, "image_shape": tuple(basis.image_shape)}
    return store[key]


def basis_ready(source: str, rank: int, sweeps: int) -> bool:
    """True when :func:`nmf_basis` returns at once: in memory, shipped in sample_data/ or on disk."""
    from nmdcore import datasets

    return (source, rank, sweeps) in _bases() or datasets.nmf_basis_ready(source, rank, sweeps)


def compressed_nmf_error(M: np.ndarray, U_hat: np.ndarray) -> float:
    """Eq. (10) of Wang, Cui & Han (2024): ``min_{V ≥ 0} ‖M − Û V‖_F / ‖M‖_F`` with ``Û = max(0, U_approx)``.

    Every column of V is an exact nonnegative least-squares solution, computed on the
    k×k Cholesky factor of ``ÛᵀÛ`` (k = columns of Û) instead of the m-row system. Above
    :data:`EQ10_MAX_COLUMNS` columns, M is replaced by that many evenly spaced columns.
    """
    U_hat = np.maximum(np.asarray(U_hat, dtype=np.float64), 0)
    M = np.asarray(M, dtype=np.float64)
    if M.shape[1] > EQ10_MAX_COLUMNS:
        M = M[:, np.linspace(0, M.shape[1] - 1, EQ10_MAX_COLUMNS).astype(int)]
    keep = np.flatnonzero(np.linalg.norm(U_hat, axis=0) > 0)
    norm_M2 = float(np.einsum("ij,ij->", M, M))
    if keep.size == 0:
        return 1.0
    A = U_hat[:, keep]
    G = A.T @ A
    G[np.diag_indices_from(G)] += 1e-12 * np.trace(G)
    R = sla.cholesky(G)                                   # G = Rᵀ R
    AtM = A.T @ M
    B = sla.solve_triangular(R, AtM, trans="T")           # R⁻ᵀ Aᵀ M
    V = np.column_stack([nnls(R, B[:, j])[0] for j in range(B.shape[1])])
    # ‖M − A V‖² = ‖M‖² − 2⟨AᵀM, V⟩ + ⟨G V, V⟩
    sq = norm_M2 - 2.0 * float(np.einsum("ij,ij->", AtM, V)) + float(np.einsum("ij,ij->", G @ V, V))
    return float(np.sqrt(max(sq, 0.0) / norm_M2))


def storage(m: int, k: int, r: int, nnz: int) -> dict:
    """Numbers stored: dense U, sparse U (value + row index per nonzero), rank-r factors W, H."""
    return {"dense U": m * k, "sparse U": 2 * nnz, "rank-r factors": r * (m + k)}


def relu_compress(U: np.ndarray, r: int, solver: str, *, max_iter: int, time_limit: float, seed: int) -> dict:
    """TSVD and ReLU-NMD of the basis at rank r, with their eq. (10) inputs (no live drawing)."""
    tsvd = nmdcore.decompose(U, r, solver="tsvd")
    res = nmdcore.decompose(U, r, solver=solver, max_iter=max_iter, time_limit=time_limit, random_state=seed)
    return {"tsvd": np.maximum(tsvd.theta, 0), "nmd": np.maximum(res.theta, 0),
            "tsvd_error": tsvd.relu_error, "nmd_error": res.relu_error}
