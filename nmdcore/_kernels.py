"""Optional compiled (numba) kernels for the fused row-block passes of the three-block and latent solvers.

Each kernel does, in one sweep over a block of rows, what the pure NumPy path of
:mod:`nmdcore.solvers.three_block` or :mod:`nmdcore.solvers.latent` does with a chain
of whole-block operations: the ReLU error, the latent residual, the extrapolations,
the projection onto F(X) = {Z : max(0, Z) = X} and EM's E-step. The E-step evaluates
nmdcore's own branch-free ``erfcx`` (:func:`nmdcore._erfcx.erfcx_scalar`), whose NumPy
twin the NumPy chain calls. The elementwise results are computed with the same
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

import hashlib
import os
import types
from pathlib import Path
from typing import NamedTuple

import numpy as np

from . import _cd_kernels, _erfcx, _erfcx_table, _linalg
from ._erfcx import erfcx32_scalar, erfcx_native, erfcx_scalar
from ._parallel import map_row_chunks

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
        Attributes ``bcd_block``, ``momentum_block``, ``ebcd_block`` and ``difference_block``
        (three-block solvers; the last is eBCD's start), ``latent_build_block``, ``anmd_block``,
        ``residual_block`` and ``em_block`` (latent solvers), ``erfcx_pass`` (EM's erfcx alone),
        ``relu_sq_error`` (see :func:`relu_error`), ``scan_entries`` (see :func:`scan_entries`),
        ``cd_detach`` and ``cd_attach`` (CD-NMD, see :mod:`nmdcore._cd_kernels`). See the kernel
        bodies for what each computes.
    """
    return _load() if backend() == "numba" else None


def relu_error(X: np.ndarray, theta: np.ndarray, norm_X: float, work: np.ndarray | None = None) -> float:
    """``‖X − max(0, Θ)‖_F / ‖X‖_F`` in one compiled pass, without temporaries, when the backend is numba.

    Otherwise, or for arrays that are not C-contiguous of one dtype,
    :func:`nmdcore._linalg.relu_error` (three NumPy passes; ``work`` is its optional m×n
    buffer). The squares are summed in float64 in a different order: the two agree up
    to rounding. The compiled pass runs over fixed row chunks on every core, their sums
    added in chunk order (the same on any number of threads).
    """
    kernels = fused_kernels()
    if (kernels is None or theta.dtype != X.dtype or theta.shape != X.shape
            or not (X.flags.c_contiguous and theta.flags.c_contiguous)):
        return float(_linalg.relu_error(X, theta, norm_X, work))
    zero = X.dtype.type(0)
    parts = map_row_chunks(lambda rows: kernels.relu_sq_error(theta[rows], X[rows], zero), X.shape[0])
    return float(np.sqrt(sum(parts))) / norm_X


class EntryScan(NamedTuple):
    """What one pass over a data matrix finds (:func:`scan_entries`)."""

    nonfinite: int      #: NaN or infinite entries
    negative: int       #: entries below 0
    nonzero: int        #: entries other than 0 (NaNs included)
    largest: float      #: largest magnitude of the finite entries (0 if none)
    sq_norm: float      #: sum of the squares, in float64 (inf or NaN when entries are)


def scan_entries(A: np.ndarray) -> EntryScan:
    """One pass over the float matrix ``A``: its bad entries, nonzeros, largest magnitude and ‖A‖².

    Compiled, over row chunks on every core, when the backend is numba and A is a
    C-contiguous 2-D array; else NumPy's passes. The squares are summed in float64 per
    column within a chunk (the loop vectorizes without reordering a sum), the chunks added
    in order, so the result does not depend on the number of threads.
    """
    kernels = fused_kernels()
    if kernels is None or not A.flags.c_contiguous or A.ndim != 2:
        finite = np.isfinite(A)
        top = float(np.max(np.abs(A), where=finite, initial=0.0))
        return EntryScan(int(A.size - np.count_nonzero(finite)), int(np.count_nonzero(A < 0)),
                         int(np.count_nonzero(A)), top, _linalg.sq_norm(A))
    unsigned = np.dtype(f"u{A.dtype.itemsize}")
    magnitude_mask = unsigned.type(np.iinfo(unsigned).max >> 1)
    infinity = np.array(np.inf, A.dtype).view(unsigned)[()]

    def scan(rows):
        block = A[rows]
        return kernels.scan_entries(block, block.view(unsigned), magnitude_mask, infinity)

    parts = map_row_chunks(scan, A.shape[0])
    top = np.array(max(p[3] for p in parts), unsigned).view(A.dtype)[()]
    sq = 0.0
    for p in parts:
        sq += p[4]
    return EntryScan(int(sum(p[0] for p in parts)), int(sum(p[1] for p in parts)), int(sum(p[2] for p in parts)),
                     float(top), float(sq))


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


def _keyed_to(fn, *modules):
    """A copy of ``fn`` whose ``__qualname__`` carries a digest of the source files of ``modules``.

    numba's disk cache is keyed to the qualified name and to the stamp (mtime, size) of the
    file that defines the function, not to the modules whose functions and constant arrays
    it compiles in. A kernel that inlines :mod:`nmdcore._erfcx` would otherwise keep loading
    a stale compiled erfcx after that module or its table changes.
    """
    digest = hashlib.sha256()
    for module in modules:
        digest.update(Path(module.__file__).read_bytes())
    copy = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__)
    copy.__qualname__ = f"{fn.__qualname__}_{digest.hexdigest()[:16]}"
    copy.__doc__ = fn.__doc__
    return copy


def _build(numba):
    """Compile (lazily, per dtype on first call) the block kernels below."""
    helpers = (_relu_gap, _project, _add_squared_gap, _add_squared_gap_at, _momentum_step) + _erfcx.JIT_HELPERS
    for helper in helpers:
        numba.extending.register_jitable(inline="always")(helper)
    for helper in _cd_kernels.JIT_HELPERS:
        numba.extending.register_jitable(helper)
    _register_erfcx_natives(numba)
    kernels = types.SimpleNamespace(bcd_block=_jit(numba, _bcd_block), momentum_block=_jit(numba, _momentum_block),
                              ebcd_block=_jit(numba, _ebcd_block),
                              latent_build_block=_jit(numba, _latent_build_block),
                              anmd_block=_jit(numba, _anmd_block), residual_block=_jit(numba, _residual_block),
                              difference_block=_jit(numba, _difference_block),
                              em_block=_jit(numba, _keyed_to(_em_block, _erfcx, _erfcx_table)),
                              erfcx_pass=_jit(numba, _keyed_to(_erfcx_pass, _erfcx, _erfcx_table)),
                              relu_sq_error=_jit(numba, _relu_sq_error),
                              scan_entries=_jit(numba, _scan_entries),
                              cd_detach=_jit(numba, _cd_kernels._cd_detach),
                              cd_attach=_jit(numba, _cd_kernels._cd_attach))
    return kernels


def _register_erfcx_natives(numba):
    """Compiled versions of the erfcx helpers that Python writes with a table lookup or a type test.

    2^(k − 1) is built from its bits (exponent field k − 1 + bias), which vectorizes; the
    tables' lookups would be element-by-element loads (float32 erfcx: 6.3 -> 4.7 ns per value
    on a Zen 1 core). ``erfcx_native`` picks the float32 or float64 erfcx by the argument's type.
    """
    nb_types = numba.core.types

    @numba.extending.intrinsic
    def bits_as_float(typingctx, bits):
        width = {nb_types.int64: nb_types.float64, nb_types.int32: nb_types.float32}[bits]

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], context.get_value_type(signature.return_type))
        return width(bits), codegen

    @numba.extending.overload(_erfcx._pow2_half, inline="always")
    def _pow2_half(kf):
        return lambda kf: bits_as_float((np.int64(np.int32(kf)) + 1022) << 52)

    @numba.extending.overload(_erfcx._pow2_half32, inline="always")
    def _pow2_half32(kf):
        return lambda kf: bits_as_float(np.int32((np.int32(kf) + 126) << 23))

    @numba.extending.overload(erfcx_native, inline="always")
    def _erfcx_native(x):
        if x == nb_types.float32:
            return lambda x: erfcx32_scalar(x)
        return lambda x: erfcx_scalar(x)


# ---------------------------------------------------------------------------------------------
# kernel bodies (plain Python, compiled by _build). All arrays are C-contiguous (rows, n) blocks
# of one dtype; scalar arguments have that dtype too, so float32 arithmetic stays float32 as in
# NumPy. Comparisons are written so that NaN propagates as through np.maximum/np.minimum/np.clip.

def _relu_gap(t, x, zero):
    """``max(t, 0) − x`` (NaN-propagating max: NaN < 0 is false)."""
    return (zero if t < zero else t) - x


def _project(t, x, zero):
    """``clip(t, lower, x)``: x where x > 0, min(t, 0) elsewhere; NaN stays NaN.

    Two selects without branches, so that the loops around it vectorize (float32 passes
    ~1.6× faster than with early returns).
    """
    low = zero if t > zero else t
    return x if (x > zero and t == t) else low


def _add_squared_gap(acc, a, b):
    """``acc[j] += (a[j] − b[j])²`` in float64 for every j (the difference in the rows' dtype)."""
    for j in range(acc.shape[0]):
        _add_squared_gap_at(acc, a, b, j)


def _add_squared_gap_at(acc, a, b, j):
    """``acc[j] += (a[j] − b[j])²`` in float64 (the difference in the rows' dtype)."""
    d = np.float64(a[j] - b[j])
    acc[j] += d * d


def _bcd_block(T, Z, X, exact, fill, zero):
    """For Θ = T: returns (‖Z − T‖² if exact else 0, ‖max(T, 0) − X‖², ‖P(T)‖²); Z ← P(T).

    ``fill``: Z still has to take its start Z0 = X (a solver's first pass); each row of Z
    is set to X's row first, while both are in cache.
    """
    rows, n = T.shape
    # per-column float64 partial sums: every column is independent, so the loop vectorizes
    # without reassociating any floating-point operation
    res = np.zeros(n, np.float64)
    rel = np.zeros(n, np.float64)
    z_sq = np.zeros(n, np.float64)
    for i in range(rows):
        t_row, z_row, x_row = T[i], Z[i], X[i]
        if fill:
            z_row[:] = x_row
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


def _momentum_block(T, Z, X, T_old, exact, extrapolate, want_z_sq, fill, keep, grow, zero):
    """The 3B-NMD / NMD-TM pass, with ``keep = −a`` and ``grow = 1 + a``.

    Returns (‖Z − T‖² if exact, ‖max(T, 0) − X‖², ‖Z_next‖² if want_z_sq) and sets
    ``T_old ← keep·T_old + grow·T`` (or T when not extrapolating) and
    ``Z ← keep·Z + grow·P(T_old)``. ``fill``: Z still has to take its start Z0 = X (the
    first pass); each row of Z is set to X's row first.

    The flags are tested once per row, outside the loops over its entries: a test inside
    kept the compiler from vectorizing them (float32, Zen 1: 3.0 -> 1.5 ns per entry).
    """
    rows, n = T.shape
    res = np.zeros(n, np.float64)
    rel = np.zeros(n, np.float64)
    z_sq = np.zeros(n, np.float64)
    for i in range(rows):
        t_row, z_row, x_row, o_row = T[i], Z[i], X[i], T_old[i]
        if fill:
            z_row[:] = x_row
        if exact and extrapolate:
            for j in range(n):
                _add_squared_gap_at(res, z_row, t_row, j)
                _momentum_step(z_row, x_row, o_row, rel, z_sq, j, t_row[j], o_row[j] * keep + t_row[j] * grow,
                               keep, grow, zero)
        elif exact:
            for j in range(n):
                _add_squared_gap_at(res, z_row, t_row, j)
                _momentum_step(z_row, x_row, o_row, rel, z_sq, j, t_row[j], t_row[j], keep, grow, zero)
        elif extrapolate:
            for j in range(n):
                _momentum_step(z_row, x_row, o_row, rel, z_sq, j, t_row[j], o_row[j] * keep + t_row[j] * grow,
                               keep, grow, zero)
        else:
            for j in range(n):
                _momentum_step(z_row, x_row, o_row, rel, z_sq, j, t_row[j], t_row[j], keep, grow, zero)
    return res.sum(), rel.sum(), z_sq.sum() if want_z_sq else 0.0


def _momentum_step(z_row, x_row, o_row, rel, z_sq, j, t, t_next, keep, grow, zero):
    """Entry j of the momentum pass for Θ_ij = t and its extrapolation ``t_next``:
    ``rel[j] += (max(t, 0) − x)²``, ``o_row[j] ← t_next``, ``z_row[j] ← keep·z_row[j] +
    grow·P(t_next)`` and ``z_sq[j] += z_row[j]²`` (sums in float64)."""
    x = x_row[j]
    e = np.float64(_relu_gap(t, x, zero))
    rel[j] += e * e
    o_row[j] = t_next
    z = z_row[j] * keep + _project(t_next, x, zero) * grow
    z_row[j] = z
    q = np.float64(z)
    z_sq[j] += q * q


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
            d = zero if (e > zero and not x > zero) else e  # NaN e stays NaN
            d_row[j] = d
            q = np.float64(d)
            d_sq[j] += q * q
            g = np.float64(x if e > x else e)
            rel[j] += g * g
    return d_sq.sum(), rel.sum()


def _difference_block(T, Z, X, D, zero):
    """eBCD's start for Θ = T: D ← Z − T; returns (‖D‖², ‖max(T, 0) − X‖²). Z may be X itself."""
    rows, n = T.shape
    d_sq = np.zeros(n, np.float64)
    rel = np.zeros(n, np.float64)
    for i in range(rows):
        t_row, z_row, x_row, d_row = T[i], Z[i], X[i], D[i]
        for j in range(n):
            t = t_row[j]
            d = z_row[j] - t
            d_row[j] = d
            q = np.float64(d)
            d_sq[j] += q * q
            e = np.float64(_relu_gap(t, x_row[j], zero))
            rel[j] += e * e
    return d_sq.sum(), rel.sum()


# ---------------------------------------------------------------------------------------------
# latent solvers (nmdcore.solvers.latent)

def _latent_build_block(T, Z, Z_old, X, keep, grow, zero):
    """A-NMD's extrapolated projection: Z ← grow·P(T) + keep·Z_old (``keep = −β``, ``grow = 1 + β``)."""
    rows, n = T.shape
    for i in range(rows):
        t_row, z_row, o_row, x_row = T[i], Z[i], Z_old[i], X[i]
        for j in range(n):
            z_row[j] = _project(t_row[j], x_row[j], zero) * grow + o_row[j] * keep


def _anmd_block(T, Z, X, T_old, T_new, extrapolate, keep, grow, zero):
    """A-NMD after a truncation Θ = T: returns (‖Z − T‖², ‖max(T, 0) − X‖², ‖Z − T_new‖²) with
    ``T_new ← grow·T + keep·T_old`` (or T when not extrapolating)."""
    rows, n = T.shape
    res = np.zeros(n, np.float64)
    rel = np.zeros(n, np.float64)
    gap = np.zeros(n, np.float64)
    for i in range(rows):
        t_row, z_row, x_row, o_row, e_row = T[i], Z[i], X[i], T_old[i], T_new[i]
        _add_squared_gap(res, z_row, t_row)
        for j in range(n):
            t = t_row[j]
            e = np.float64(_relu_gap(t, x_row[j], zero))
            rel[j] += e * e
            if extrapolate:
                t = t * grow + o_row[j] * keep
            e_row[j] = t
        _add_squared_gap(gap, z_row, e_row)
    return res.sum(), rel.sum(), gap.sum()


def _residual_block(T, Z, X, zero):
    """Returns (‖Z − T‖², ‖max(T, 0) − X‖²); writes nothing."""
    rows, n = T.shape
    res = np.zeros(n, np.float64)
    rel = np.zeros(n, np.float64)
    for i in range(rows):
        t_row, z_row, x_row = T[i], Z[i], X[i]
        _add_squared_gap(res, z_row, t_row)
        for j in range(n):
            e = np.float64(_relu_gap(t_row[j], x_row[j], zero))
            rel[j] += e * e
    return res.sum(), rel.sum()


def _em_block(T, Z_out, Z_prev, Z_prev2, X, momentum, sigma, neg_sigma, inv_sqrt2, sqrt_2_over_pi, alpha,
              zero):
    """EM's E-step for Θ = T: on the zeros of X, with γ = T/σ and ρ = √(2/π)/erfcx(γ/√2),
    ``e = (ρ − γ)·(−σ)`` (the posterior mean T − σρ), plus ``α(Z_prev − Z_prev2)`` when
    ``momentum``; X on the positives. Writes Z_out (which may be Z_prev2) and returns
    (Σ ρ(ρ − γ) over the zeros, ‖Z_out‖², ‖max(T, 0) − X‖²).

    Per row, erfcx (branch-free, in the data's precision: :func:`nmdcore._erfcx.erfcx_native`)
    runs on every entry in a loop of its own that the compiler vectorizes, as it does the
    loops around it (same operations, same order as the NumPy chain); the values at the
    positives of X are not used. Gathering the zeros' arguments first would save a fifth
    of the erfcx calls, but its serial index loop cost more than that (22.5 against 18.8
    ns per entry on a Zen 1 core). Z_out is written by a loop of its own that reads only
    X and the row's scratch: Z_out is Z_prev (EM) or Z_prev2 (A-EM), and a loop that
    reads and writes the same array does not vectorize (float32: 11.9 -> 8.2 ns per entry).
    """
    rows, n = T.shape
    red = np.zeros(n, np.float64)
    z_sq = np.zeros(n, np.float64)
    rel = np.zeros(n, np.float64)
    g = np.empty(n, T.dtype)
    c = np.empty(n, T.dtype)
    for i in range(rows):
        t_row, o_row, x_row = T[i], Z_out[i], X[i]
        p_row, q_row = Z_prev[i], Z_prev2[i]
        for j in range(n):
            t = t_row[j]
            e = np.float64(_relu_gap(t, x_row[j], zero))
            rel[j] += e * e
            gamma = t / sigma
            g[j] = gamma
            c[j] = gamma * inv_sqrt2
        for j in range(n):
            c[j] = erfcx_native(c[j])
        for j in range(n):
            rho = sqrt_2_over_pi / c[j]
            d = rho - g[j]
            red[j] += 0.0 if x_row[j] > 0 else np.float64(rho) * np.float64(d)
            g[j] = d * neg_sigma
        if momentum:
            for j in range(n):
                g[j] = g[j] + (p_row[j] - q_row[j]) * alpha
        for j in range(n):
            x = x_row[j]
            z = x if x > 0 else g[j]
            o_row[j] = z
            w = np.float64(z)
            z_sq[j] += w * w
    return red.sum(), z_sq.sum(), rel.sum()


def _relu_sq_error(T, X, zero):
    """``‖max(T, 0) − X‖²`` in float64 (per-column partial sums, so the loop vectorizes)."""
    rows, n = T.shape
    rel = np.zeros(n, np.float64)
    for i in range(rows):
        t_row, x_row = T[i], X[i]
        for j in range(n):
            e = np.float64(_relu_gap(t_row[j], x_row[j], zero))
            rel[j] += e * e
    return rel.sum()


def _scan_entries(A, bits, magnitude_mask, infinity):
    """Of the 2-D array ``A``: counts of non-finite, negative and nonzero entries, the bits of the
    largest magnitude of its finite entries, and the sum of the squares in float64.

    ``bits`` is ``A`` viewed as unsigned integers of its width, ``magnitude_mask`` clears their
    sign bit and ``infinity`` is the bit pattern of +inf: below it, a magnitude's bits order as
    its value, so every test but ``v < 0`` is an integer one. Row by row, so that both inner
    loops vectorize: the squares go to per-column sums (no sum is reordered).
    """
    rows, n = A.shape
    column_sq = np.zeros(n, np.float64)
    nonfinite = 0
    negative = 0
    nonzero = 0
    zero = magnitude_mask ^ magnitude_mask  # 0 of the unsigned type (a literal 0 would make numba mix in floats)
    top = zero
    for r in range(rows):
        a = A[r]
        b = bits[r]
        for j in range(n):
            v = np.float64(a[j])
            column_sq[j] += v * v
        for j in range(n):
            size = b[j] & magnitude_mask
            finite = size < infinity
            nonfinite += 0 if finite else 1
            negative += 1 if a[j] < 0 else 0
            nonzero += 1 if size != zero else 0
            size = size if finite else zero
            top = max(top, size)
    return nonfinite, negative, nonzero, top, column_sq.sum()


def _erfcx_pass(x, out):
    """``out[i] = erfcx(x[i])`` over 1-D arrays, in x's precision: the erfcx loop of :func:`_em_block`."""
    for i in range(x.shape[0]):
        out[i] = erfcx_native(x[i])
