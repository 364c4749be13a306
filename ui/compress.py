"""Helpers of the Compress page: the NMF basis (cached per server), storage counts, the two compressions."""
from __future__ import annotations

import numpy as np
import streamlit as st

import nmdcore

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


def storage(m: int, k: int, r: int, nnz: int) -> dict:
    """Numbers stored: dense U, sparse U (value + row index per nonzero), rank-r factors W, H."""
    return {"dense U": m * k, "sparse U": 2 * nnz, "rank-r factors": r * (m + k)}


def relu_compress(U: np.ndarray, r: int, solver: str, *, max_iter: int, time_limit: float, seed: int) -> dict:
    """TSVD and ReLU-NMD of the basis at rank r, with the bases eq. (10) compares (no live drawing)."""
    tsvd = nmdcore.decompose(U, r, solver="tsvd")
    res = nmdcore.decompose(U, r, solver=solver, max_iter=max_iter, time_limit=time_limit, random_state=seed)
    return {"tsvd": np.maximum(tsvd.theta, 0), "nmd": np.maximum(res.theta, 0),
            "tsvd_error": tsvd.relu_error, "nmd_error": res.relu_error}
