"""Extreme magnitudes: solve for X / 2^k when the entries of X are too small or too large.

ReLU-NMD is scale-equivariant: if Θ solves the problem for X, then cΘ solves it for cX. Data
whose largest entry is far from 1 (1e-300, 1e300, or float32 near 3e38) underflows or
overflows in ‖X‖², Gram matrices and products of factors, so :func:`nmdcore.decompose` divides
it by a power of two (exact, no rounding) when it lies outside :func:`safe_range`, solves, and
multiplies Θ and the factors back. Data inside the range is left untouched, bit for bit.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ._errors import InitError

#: Start arrays whose product gives Θ (each takes half of the scale); the others are Θ-sized.
THETA_SIZED = ("theta", "Z")


def safe_range(dtype) -> tuple[float, float]:
    """``(low, high)``: largest entries of X that are solved as they are.

    ``2^±(maxexp/4)`` of the dtype (about 1e±77 for float64, 4e9 and 2e-10 for float32):
    squares, sums of squares over a few million entries and products of two factors of
    that size all stay finite and normal.
    """
    e = np.finfo(dtype).maxexp // 4
    return 2.0 ** -e, 2.0 ** e


def scale_exponent(top: float, dtype) -> int:
    """Even ``k`` such that data of largest magnitude ``top`` divided by ``2^k`` has it in [1/4, 1);
    0 inside :func:`safe_range` of ``dtype``.

    Even, so that factors whose product is Θ each take ``2^(k/2)`` exactly.
    """
    low, high = safe_range(dtype)
    if low <= top <= high:
        return 0
    k = int(np.frexp(top)[1])
    return k + (k % 2)


def scale_data(A: np.ndarray, k: int) -> np.ndarray:
    """``A / 2^k`` (exact unless entries more than 2^k below the largest underflow); A itself when k = 0.

    A new array otherwise: ``A`` may be the caller's data, which nmdcore never writes into.
    """
    return np.ldexp(A, -k).astype(A.dtype, copy=False) if k else A


def scale_start(init, k: int, dtype, shape: tuple, rank: int) -> object:
    """Divide an explicit start by the data's scale; refuse factors whose product would overflow.

    ``init`` is returned unchanged when it is a name ("tsvd", "random") and, array for array,
    when ``k`` is 0. Arrays that are not numeric are left to the solver's own start checks,
    which name the problem.

    Raises
    ------
    InitError
        When start factors are so large that ‖Θ‖² of their product (Θ = W H, U Vᵀ or U Uᵀ)
        could overflow the dtype: ``max|A| · max|B| · r`` beyond ``sqrt(largest / (m n))``. (A
        Θ-sized start is finite as given; the solvers end a run that overflows from it as
        "diverged".)
    """
    if not isinstance(init, Mapping):
        return init
    out, tops = {}, {}
    for name, value in init.items():
        if name in THETA_SIZED and not k:
            out[name] = value  # as given: nothing to scale or bound
            continue
        try:
            array = np.array(value, dtype=np.float64)
        except (TypeError, ValueError):
            out[name] = value
            continue
        if k:
            array = np.ldexp(array, -(k if name in THETA_SIZED else k // 2))
        finite = np.abs(array[np.isfinite(array)])
        if name not in THETA_SIZED:
            tops[name] = float(finite.max()) if finite.size else 0.0
        out[name] = array if k else value
    m, n = shape
    limit = float(np.sqrt(np.finfo(dtype).max / (m * n)))
    if tops:
        first, second = (list(tops.values()) * 2)[:2]  # one factor (U Uᵀ) counts twice
        with np.errstate(over="ignore"):
            bound = np.float64(first) * np.float64(second) * rank
        if not bound <= limit:
            names = " and ".join(repr(name) for name in tops)
            scale = f" after dividing by the data's scale 2^{k}" if k else ""
            raise InitError(f"start {names} would make Θ with entries up to {bound:.3g}{scale}, which overflows "
                            f"{np.dtype(dtype).name} (keep them under {limit:.3g}); scale the start to the data")
    return out


def unscale(theta: np.ndarray, factors: dict, k: int) -> tuple[np.ndarray, dict]:
    """Multiply Θ and the solver's factors back by ``2^k`` (factors of a product by ``2^(k/2)``).

    Entries of Θ beyond the dtype's range (float32 data near its largest value) are held at
    its largest finite magnitude.
    """
    if not k:
        return theta, factors
    with np.errstate(over="ignore"):
        theta = np.ldexp(theta, k).astype(theta.dtype, copy=False)
    if not np.isfinite(theta).all():
        # only far-negative entries can leave the dtype's range (max(0, Θ) is near X): keep them
        # at its most negative finite value, which leaves max(0, Θ) as it is
        big = np.finfo(theta.dtype).max
        np.clip(theta, -big, big, out=theta)
    back = {}
    for name, value in factors.items():
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            value = np.ldexp(value, k if name in THETA_SIZED else k // 2).astype(value.dtype, copy=False)
        back[name] = value
    return theta, back
