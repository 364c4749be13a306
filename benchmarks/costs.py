"""What one iteration of each solver must compute, and the time floor that work implies.

This module is the one table of per-iteration work. A solver's *bound* is the median
time of the GEMMs its iteration must do, measured with ``np.matmul`` on the same shapes
and dtype in the same run (for EM and A-EM also one pass of nmdcore's erfcx over the
zeros of X, on every core like the GEMMs), plus one pass over the m×n data (``np.copyto`` into a buffer). Each GEMM is timed in both layouts (``A @ B``
and ``(Bᵀ @ Aᵀ)ᵀ``, which OpenBLAS can run at very different speeds) and the faster
one counts: the bound is a floor, not a model of any implementation.
"""
from __future__ import annotations

import inspect
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from nmdcore.special import erfcx

#: Power steps per iteration of the latent solvers' warm-started randomized TSVD (after the
#: first, cold call): each is ``S ← orth(Z (Zᵀ S))``, followed by the Rayleigh–Ritz product ``Sᵀ Z``.
RANDOMIZED_WARM_POWER_STEPS = 1


def _randomized_oversampling() -> int:
    """Extra subspace columns of ``nmdcore._tsvd.randomized_tsvd`` (its default), 10 if it has none."""
    try:
        from nmdcore._tsvd import randomized_tsvd
        return int(inspect.signature(randomized_tsvd).parameters["n_oversamples"].default)
    except (ImportError, KeyError, TypeError, ValueError):
        return 10


@dataclass(frozen=True)
class Gemm:
    """``left @ right`` (operands named in :attr:`IterationWork.operands`), done ``count`` times."""

    left: str
    right: str
    left_t: bool = False
    right_t: bool = False
    count: int = 1

    def label(self) -> str:
        return f"{self.left}{'.T' if self.left_t else ''} @ {self.right}{'.T' if self.right_t else ''}"

    def dims(self, operands: dict) -> tuple[int, int, int]:
        """``(M, K, N)`` of the product (M×K times K×N)."""
        a, b = operands[self.left], operands[self.right]
        a = a[::-1] if self.left_t else a
        b = b[::-1] if self.right_t else b
        if a[1] != b[0]:
            raise ValueError(f"{self.label()}: inner dimensions {a} and {b} differ")
        return a[0], a[1], b[1]

    def flops(self, operands: dict) -> float:
        M, K, N = self.dims(operands)
        return 2.0 * M * K * N * self.count


@dataclass(frozen=True)
class Sort:
    """``np.sort`` of the m×n array ``operand`` along ``axis``, done ``count`` times (CD's sweeps sort
    their breakpoints with NumPy's vectorized float sort, on one core per block)."""

    operand: str
    axis: int
    count: int = 1

    def label(self) -> str:
        return f"sort({self.operand}, axis={self.axis})"


@dataclass(frozen=True)
class Erfcx:
    """One pass of nmdcore's own erfcx (:func:`nmdcore.special.erfcx`) over ``entries`` values.

    EM's E-step needs erfcx at every zero of X, every iteration: work the algorithm must do,
    timed in the same run as the GEMMs.
    """

    entries: int
    count: int = 1

    def label(self) -> str:
        return f"erfcx over {self.entries} entries"


@dataclass(frozen=True)
class IterationWork:
    """The unavoidable kernels of one iteration.

    Attributes
    ----------
    operands : tuple of (name, shape)
    kernels : tuple of Gemm, Sort or Erfcx
    note : str
        What the table counts and what it leaves out.
    """

    operands: tuple
    kernels: tuple
    note: str = ""

    @property
    def shapes(self) -> dict:
        return dict(self.operands)

    def gemm_flops(self) -> float:
        return sum(k.flops(self.shapes) for k in self.kernels if isinstance(k, Gemm))


def _three_block(m, n, r, params):
    ops = (("Z", (m, n)), ("W", (m, r)), ("H", (r, n)))
    return IterationWork(ops, (Gemm("Z", "H", right_t=True), Gemm("W", "Z", left_t=True), Gemm("W", "H")),
                         "Z Hᵀ, Wᵀ Z and W H: 6mnr flops; r×r solves and elementwise passes not counted")


def _factorization(m, n, r, params):
    ops = (("R", (m, n)), ("U", (m, r)), ("V", (n, r)))
    return IterationWork(ops, (Gemm("U", "V", right_t=True), Gemm("R", "V"), Gemm("R", "U", left_t=True)),
                         "U Vᵀ, R V and Rᵀ U: 6mnr flops")


def _latent_exact(m, n, r):
    if m >= n:
        ops = (("Z", (m, n)), ("V", (n, r)), ("W", (m, r)), ("H", (r, n)))
        gemms = (Gemm("Z", "Z", left_t=True), Gemm("Z", "V"), Gemm("W", "H"))
    else:
        ops = (("Z", (m, n)), ("U", (m, r)), ("W", (m, r)), ("H", (r, n)))
        gemms = (Gemm("Z", "Z", right_t=True), Gemm("U", "Z", left_t=True), Gemm("W", "H"))
    return IterationWork(ops, gemms, "Gram 2mn·p of the smaller side, one back-product and Θ = W H; "
                                     "the p×p eigensolver is not counted")


def _latent_randomized(m, n, r, params):
    width = min(r + _randomized_oversampling(), m, n)
    q = RANDOMIZED_WARM_POWER_STEPS
    ops = (("Z", (m, n)), ("S", (m, width)), ("P", (n, width)), ("W", (m, r)), ("H", (r, n)))
    gemms = (Gemm("Z", "S", left_t=True, count=q), Gemm("Z", "P", count=q), Gemm("S", "Z", left_t=True),
             Gemm("W", "H"))
    return IterationWork(ops, gemms,
                         f"warm-started subspace iteration on l = {width} columns, {q} power step(s) "
                         "(Zᵀ S, Z P) + Rayleigh–Ritz Sᵀ Z + Θ = W H; CholeskyQR, the small QR and the l×l eigensolver not counted")


def _latent(m, n, r, params):
    if params.get("tsvd", "exact") == "randomized":
        return _latent_randomized(m, n, r, params)
    return _latent_exact(m, n, r)


def _coordinate(m, n, r, params):
    ops = (("T", (m, n)), ("a", (m, 1)), ("h", (1, n)))
    return IterationWork(ops, (Sort("T", 0, count=r), Sort("T", 1, count=r), Gemm("a", "h", count=2 * r)),
                         "per coordinate: sort the breakpoints of every column (H-sweep) or row (W-sweep) "
                         "and a rank-one update of Θ")


#: Per-iteration work by solver family; families not listed (baseline, symmetric) are not
#: benchmarked on rectangular data.
WORK_BY_FAMILY = {
    "three_block": _three_block,
    "latent": _latent,
    "coordinate": _coordinate,
    "factorization": _factorization,
}

#: Memory goal: at most this many dense m×n arrays held (plus the index sets of X).
ARRAY_TARGETS = {"ebcd": 3, "nmd_3b": 3}


#: Solvers whose iteration runs EM's E-step (erfcx at the zeros of X).
E_STEP_SOLVERS = ("em", "a_em")


def iteration_work(spec, params: dict, m: int, n: int, r: int, zeros: int | None = None) -> IterationWork | None:
    """The kernels one iteration of ``spec`` must run on an m×n problem of rank r (None: not tabled).

    ``zeros``: the number of zero entries of X, where EM's E-step evaluates erfcx (m·n when None).
    """
    make = WORK_BY_FAMILY.get(spec.family)
    if make is None:
        return None
    work = make(m, n, r, params)
    if getattr(spec, "key", None) in E_STEP_SOLVERS:
        entries = m * n if zeros is None else int(zeros)
        work = IterationWork(work.operands, work.kernels + (Erfcx(entries),),
                             work.note + "; plus the E-step's erfcx at the zeros of X")
    return work


def target_ratio(spec, params: dict, r: int) -> float | None:
    """The speed goal for (iteration time) / (bound), or None where it sets none."""
    if spec.family == "three_block" and r in (32, 64):
        return 1.2
    if spec.family == "latent" and params.get("tsvd") == "randomized":
        return 1.5
    return None


def _erfcx_on_every_core(values: np.ndarray, out: np.ndarray):
    """A callable that evaluates erfcx over ``values`` on every core the process may use.

    The GEMMs of the bound run on every core (threaded BLAS), and so does EM's E-step; a
    one-thread erfcx pass would count that work at a fraction of the machine and make the
    bound no floor. nmdcore's compiled erfcx releases the GIL, so one contiguous chunk per
    thread runs in parallel (the NumPy fallback runs them one after another).
    """
    workers = max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    bounds = np.linspace(0, values.size, workers + 1).astype(int)
    chunks = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
    pool = ThreadPoolExecutor(max_workers=workers)

    def run():
        for future in [pool.submit(erfcx, values[c], out[c]) for c in chunks]:
            future.result()
    return run, pool


def _timings(fn, repeats: int, warm_up: bool = True) -> tuple[float, float]:
    """``(median, min)`` seconds of ``repeats`` calls of ``fn``."""
    if warm_up:  # page faults of fresh buffers, thread start
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def measure_bound(work: IterationWork, m: int, n: int, dtype, repeats: int = 5, seed: int = 0,
                  give_up_s: float = float("inf"), layouts: dict | None = None) -> dict:
    """Time the kernels of ``work`` on random operands of ``dtype``; return the bound and its parts.

    Parameters
    ----------
    give_up_s : float
        Stop measuring once the kernels timed so far add up to more than this; the result
        then has ``complete=False`` and ``bound_s`` is a lower bound of the true bound.
    layouts : dict or None
        ``{kernel label: "direct" | "transposed"}`` from an earlier result: time only that
        layout of each GEMM (a cheaper re-measurement next to each solver run).

    Returns
    -------
    dict
        ``bound_s`` (sum of kernel medians × counts + one m×n pass), ``bound_min_s`` (the
        same with minima: the best case, steadier on a loaded machine), ``pass_s``,
        ``complete``, ``layouts`` (the faster layout of each GEMM) and ``kernels``: one entry
        per kernel with its label, dims, count, median seconds of each layout timed, the
        faster one, its minimum and its GFLOP/s.
    """
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    arrays = {name: rng.standard_normal(shape).astype(dtype) for name, shape in work.operands}
    parts = []
    total = total_min = 0.0
    pass_s = None
    for kernel in work.kernels:
        if isinstance(kernel, Gemm):
            a = arrays[kernel.left].T if kernel.left_t else arrays[kernel.left]
            b = arrays[kernel.right].T if kernel.right_t else arrays[kernel.right]
            out = np.empty((a.shape[0], b.shape[1]), dtype)
            out_t = np.empty((b.shape[1], a.shape[0]), dtype)
            wanted = (layouts or {}).get(kernel.label())
            timed = {}
            if wanted in (None, "direct"):
                timed["direct"] = _timings(lambda: np.matmul(a, b, out=out), repeats)
            if wanted in (None, "transposed"):
                timed["transposed"] = _timings(lambda: np.matmul(b.T, a.T, out=out_t), repeats)
            layout = min(timed, key=lambda k: timed[k][0])
            best, fastest = timed[layout]
            del out, out_t
            flops = kernel.flops(work.shapes) / kernel.count
            parts.append({"kernel": kernel.label(), "dims": list(kernel.dims(work.shapes)), "count": kernel.count,
                          **{f"{k}_s": v[0] for k, v in timed.items()}, "layout": layout, "median_s": best,
                          "min_s": fastest, "gflops": flops / best / 1e9 if best > 0 else None})
        elif isinstance(kernel, Erfcx):
            values = rng.standard_normal(kernel.entries).astype(dtype)
            out = np.empty_like(values)
            run, pool = _erfcx_on_every_core(values, out)
            with pool:
                best, fastest = _timings(run, repeats)
            del values, out
            parts.append({"kernel": kernel.label(), "dims": [kernel.entries], "count": kernel.count,
                          "median_s": best, "min_s": fastest})
        else:
            src = arrays[kernel.operand]
            # about a second per call at MNIST scale: one timed call, no warm-up
            best, fastest = _timings(lambda: np.sort(src, axis=kernel.axis), 1, warm_up=False)
            parts.append({"kernel": kernel.label(), "dims": list(src.shape), "count": kernel.count,
                          "median_s": best, "min_s": fastest})
        total += best * kernel.count
        total_min += fastest * kernel.count
        if total > give_up_s:
            break
    else:
        src = next((a for a in arrays.values() if a.shape == (m, n)), None)
        if src is None:
            src = rng.standard_normal((m, n)).astype(dtype)
        buf = np.empty_like(src)
        pass_s, pass_min = _timings(lambda: np.copyto(buf, src), repeats)
        total += pass_s
        total_min += pass_min
    return {"bound_s": total, "bound_min_s": total_min, "pass_s": pass_s, "complete": pass_s is not None,
            "kernels": parts,
            "layouts": {p["kernel"]: p["layout"] for p in parts if "layout" in p},
            "gemm_gflop": work.gemm_flops() / 1e9, "note": work.note}
