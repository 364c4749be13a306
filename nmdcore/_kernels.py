"""Optional compiled (numba) kernels for the fused row-block passes of the three-block solvers.

Each kernel does, in one sweep over a block of rows, what the pure NumPy path of
:mod:`nmdcore.solvers.three_block` does with a chain of whole-block operations:
the ReLU error, the latent residual, the extrapolations and the projection onto
F(X) = {Z : max(0, Z) = X}. The elementwise results are computed with the same
floating-point operations in the same order (no fastmath, scalars cast to the
data's dtype exactly as NumPy casts them), so the arrays they write are identical
to NumPy's; the sums are accumulated in float64 in a different order than NumPy's,
so they agree with it up to rounding. The block product Θ = WH stays a BLAS call.

Backend selection
-----------------
:func:`backend` is read at the start of every solver run: the environment variable
``NMD_KERNELS`` may be ``numpy`` (pure NumPy), ``numba`` (compiled kernels; an error if
numba cannot be imported) or ``auto``/unset (numba when it imports, else NumPy,
silently).

Compilation happens on the first run of each kernel and dtype (about 0.3–1.2 s each,
plus ~0.4 s to import numba, on a 2-core machine) and is cached on disk
(``cache=True``): in ``NUMBA_CACHE_DIR`` when set, else in ``__pycache__`` beside this
file, else, for a read-only install, in numba's per-user cache directory
(``~/.cache/numba``); where none is writable the kernels are compiled in every process.
A later process loads a cached kernel in a few hundredths of a second.
"""
from __future__ import annotations

import os
from types import SimpleNamespace

import numpy as np

#: Environment variable choosing the kernel backend (read at call time).
ENV_VAR = "NMD_KERNELS"
_CHOICES = ("auto", "numpy", "numba")

_NUMBA = None  # None: not tried yet; False: numba does not import; else the compiled kernels


def numba_available() -> bool:
    """Whether numba imports (tried once, then remembered)."""
    return _load() is not False


def backend() -> str:
    """The kernel backend a run starting now uses: ``"numba"`` or ``"numpy"``.

    Returns
    -------
    str

    Raises
    ------
    ValueError
        When ``NMD_KERNELS`` holds anything but ``auto``, ``numpy`` or ``numba``.
    ImportError
        When ``NMD_KERNELS=numba`` and numba cannot be imported.
    """
    choice = os.environ.get(ENV_VAR, "auto").strip().lower() or "auto"
    if choice not in _CHOICES:
        raise ValueError(f"{ENV_VAR}={choice!r}: expected one of {', '.join(_CHOICES)}")
    if choice == "numpy":
        return "numpy"
    if numba_available():
        return "numba"
    if choice == "numba":
        raise ImportError(f"{ENV_VAR}=numba but numba cannot be imported")
    return "numpy"


def fused_kernels():
    """The compiled kernels when :func:`backend` is ``"numba"``, else None.

    Returns
    -------
    types.SimpleNamespace or None
        Attributes ``bcd_block``, ``momentum_block`` and ``ebcd_block`` (see
        :func:`_build` for what each computes).
    """
    return _load() if backend() == "numba" else None


def _load():
    global _NUMBA
    if _NUMBA is None:
        try:
            import numba
        except ImportError:
            _NUMBA = False
        else:
            _NUMBA = _build(numba)
    return _NUMBA


def _jit(numba, fn):
    """``njit`` without fastmath, GIL released; cached on disk where a cache directory is writable."""
    options = dict(nogil=True, fastmath=False, error_model="numpy", boundscheck=False)
    try:
        return numba.njit(cache=True, **options)(fn)
    except RuntimeError:  # no writable cache location ("cannot cache function ...")
        return numba.njit(cache=False, **options)(fn)


def _build(numba):
    """Compile (lazily, per dtype on first call) the three block kernels below."""
    for helper in (_relu_gap, _project, _add_squared_gap):
        numba.extending.register_jitable(inline="always")(helper)
    return SimpleNamespace(bcd_block=_jit(numba, _bcd_block), momentum_block=_jit(numba, _momentum_block),
                           ebcd_block=_jit(numba, _ebcd_block))


# ---------------------------------------------------------------------------------------------
# kernel bodies (plain Python, compiled by _build). All arrays are C-contiguous (rows, n) blocks
# of one dtype; scalar arguments have that dtype too, so float32 arithmetic stays float32 as in
# NumPy. Comparisons are written so that NaN propagates as through np.maximum/np.minimum/np.clip.

def _relu_gap(t, x, zero):
    """``max(t, 0) − x`` (NaN-propagating max)."""
    e = t if (t >= zero or t != t) else zero
    return e - x


def _project(t, x, zero):
    """``clip(t, lower, x)``: x where x > 0, min(t, 0) elsewhere; NaN stays NaN."""
    if t != t:
        return t
    if x > zero:
        return x
    return t if t <= zero else zero


def _add_squared_gap(acc, a, b):
    """``acc[j] += (a[j] − b[j])²`` in float64 (the difference in the rows' dtype)."""
    for j in range(acc.shape[0]):
        d = np.float64(a[j] - b[j])
        acc[j] += d * d


def _bcd_block(T, Z, X, exact, zero):
    """For Θ = T: returns (‖Z − T‖² if exact else 0, ‖max(T, 0) − X‖², ‖P(T)‖²); Z ← P(T)."""
    rows, n = T.shape
    # per-column float64 partial sums: every column is independent, so the loop vectorizes
    # without reassociating any floating-point operation
    res = np.zeros(n, np.float64)
    rel = np.zeros(n, np.float64)
    z_sq = np.zeros(n, np.float64)
    for i in range(rows):
        t_row, z_row, x_row = T[i], Z[i], X[i]
        if exact:
            _add_squared_gap(res, z_row, t_row)
        for j in range(n):
            t = t_row[j]
            x = x_row[j]
            e = np.float64(_relu_gap(t, x, zero))
            rel[j] += e * e
            p = _project(t, x, zero)
            z_row[j] = p
            q = np.float64(p)
            z_sq[j] += q * q
    return res.sum(), rel.sum(), z_sq.sum()


def _momentum_block(T, Z, X, T_old, exact, extrapolate, want_z_sq, keep, grow, zero):
    """The 3B-NMD / NMD-TM pass, with ``keep = −a`` and ``grow = 1 + a``.

    Returns (‖Z − T‖² if exact, ‖max(T, 0) − X‖², ‖Z_next‖² if want_z_sq) and sets
    ``T_old ← keep·T_old + grow·T`` (or T when not extrapolating) and
    ``Z ← keep·Z + grow·P(T_old)``.
    """
    rows, n = T.shape
    res = np.zeros(n, np.float64)
    rel = np.zeros(n, np.float64)
    z_sq = np.zeros(n, np.float64)
    for i in range(rows):
        t_row, z_row, x_row, o_row = T[i], Z[i], X[i], T_old[i]
        if exact:
            _add_squared_gap(res, z_row, t_row)
        for j in range(n):
            t = t_row[j]
            x = x_row[j]
            e = np.float64(_relu_gap(t, x, zero))
            rel[j] += e * e
            if extrapolate:
                t = o_row[j] * keep + t * grow
            o_row[j] = t
            z = z_row[j] * keep + _project(t, x, zero) * grow
            z_row[j] = z
            if want_z_sq:
                q = np.float64(z)
                z_sq[j] += q * q
    return res.sum(), rel.sum(), z_sq.sum()


def _ebcd_block(T, D, X, zero):
    """For Θ = T and E = X − T: D ← min(E, U) (U = +inf where X > 0, else 0);
    returns (‖D‖², ‖min(E, X)‖²)."""
    rows, n = T.shape
    d_sq = np.zeros(n, np.float64)
    rel = np.zeros(n, np.float64)
    for i in range(rows):
        t_row, d_row, x_row = T[i], D[i], X[i]
        for j in range(n):
            x = x_row[j]
            e = x - t_row[j]
            d = e if (x > zero or e <= zero or e != e) else zero
            d_row[j] = d
            q = np.float64(d)
            d_sq[j] += q * q
            g = np.float64(e if (e <= x or e != e) else x)
            rel[j] += g * g
    return d_sq.sum(), rel.sum()
