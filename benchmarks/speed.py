"""Per-iteration time of every solver next to the bound of the work its iteration must do."""
from __future__ import annotations

import gc

import numpy as np

from ._common import call_solver, each_configuration, finite_or_none, iteration_times, log
from .costs import iteration_work, measure_bound, target_ratio

KEY_FIELDS = ("data", "m", "n", "dtype", "rank", "variant")
CSV_FIELDS = ("data", "m", "n", "zeros", "dtype", "rank", "variant", "family", "status", "n_iter", "stop_reason",
              "iter_ms", "iter_ms_min", "bound_ms", "bound_before_ms", "bound_after_ms", "bound_min_ms", "pass_ms",
              "ratio", "ratio_best", "target", "meets_target", "gemm_gflop", "effective_gflops", "relu_error", "start",
              "run_id")


def _ms(seconds):
    return None if seconds is None else round(1e3 * seconds, 3)


#: At most this many iterations per run, however short an iteration is.
MAX_ITER_CAP = 100


def iterations_for(bound_s: float, max_iter: int, warmup: int, min_timed_s: float) -> int:
    """Iterations of a run: at least ``max_iter``, and enough that the timed ones span ``min_timed_s``
    at the bound's pace (medians over 8 iterations of 15 ms moved by ±15 % between runs on mnist10k)."""
    if bound_s <= 0 or min_timed_s <= 0:
        return max_iter
    return int(min(max(max_iter, warmup + np.ceil(min_timed_s / bound_s)), max(max_iter, MAX_ITER_CAP)))


def run_speed(datasets, ranks, dtypes, variants, *, max_iter, warmup, repeats, budget_s, start, run_id,
              min_timed_s=0.0) -> list[dict]:
    """Time ``max_iter`` iterations of each variant from a common start; one record per run.

    A run whose bound × (max_iter + 1) exceeds ``budget_s`` is recorded as skipped; every
    run also gets ``time_limit=3 * budget_s``. Iteration time is the median of the
    ``history["time"]`` differences after the first ``warmup`` iterations; the bound is
    measured before and after the run and the smaller of the two counts. Short iterations
    get more of them (:func:`iterations_for`), up to :data:`MAX_ITER_CAP`.
    """
    records = []
    bounds = {}
    for X, r, variant, init, rec in each_configuration(datasets, ranks, dtypes, variants, start=start,
                                                       records=records, max_iter=max_iter, run_id=run_id):
        m, n = X.shape
        params = variant.spec.resolve(variant.hyperparams)
        work = iteration_work(variant.spec, params, m, n, r, zeros=int(np.count_nonzero(X == 0)))
        if work is None:
            rec["status"] = "skipped: no per-iteration work tabled for this family"
        if init is None or work is None:
            continue
        # the first measurement tries both layouts of each GEMM; later runs re-measure the faster
        # one next to the solver, so slow drifts of the machine's load hit both sides of the ratio
        cache_key = (work, X.dtype.name)
        if cache_key not in bounds:
            before = bounds[cache_key] = measure_bound(work, m, n, X.dtype, repeats=repeats,
                                                       give_up_s=budget_s / (max_iter + 1))
        elif bounds[cache_key]["complete"]:
            before = measure_bound(work, m, n, X.dtype, repeats=repeats, layouts=bounds[cache_key]["layouts"])
        else:
            before = bounds[cache_key]
        rec.update(bound_before_ms=_ms(before["bound_s"]), work_note=before["note"],
                   gemm_gflop=round(before["gemm_gflop"], 3), target=target_ratio(variant.spec, params, r))
        where = f"speed {rec['data']} {rec['dtype']} r={r} {variant.label}"
        if before["bound_s"] * (max_iter + 1) > budget_s:
            rec.update(kernels=before["kernels"],
                       status=f"skipped: bound {'>' if not before['complete'] else ''}{before['bound_s']:.2f} s × "
                              f"{max_iter + 1} exceeds the {budget_s:g} s budget")
            log(f"{where}: {rec['status']}")
            continue
        n_iter = iterations_for(before["bound_s"], max_iter, warmup, min_timed_s)
        rec["max_iter"] = n_iter
        # a safety net only: the first iteration (cold starts) and slow solvers may take a few bounds more
        res = call_solver(X, r, variant, init, rec, "speed", max_iter=n_iter, time_limit=3 * budget_s)
        if res is None:
            continue
        times = iteration_times(res.history, warmup)
        rec.update(n_iter=res.n_iter, stop_reason=res.stop_reason, relu_error=finite_or_none(res.relu_error),
                   warmup=warmup, iter_times_ms=[_ms(t) for t in times])
        del res
        gc.collect()
        if times.size == 0:
            rec["status"] = f"error: fewer than two iterations recorded (stop_reason {rec['stop_reason']!r})"
            log(f"{where}: {rec['status']}")
            continue
        # measured again after the run; the quieter of the two measurements is the bound (a load
        # spike during one of them would otherwise flatter the solver)
        after = measure_bound(work, m, n, X.dtype, repeats=repeats, layouts=before["layouts"])
        bound = min(before, after, key=lambda b: b["bound_s"])
        bound_min_s = min(before["bound_min_s"], after["bound_min_s"])
        iter_s = float(np.median(times))
        ratio = iter_s / bound["bound_s"]
        rec.update(status="ok", bound_s=bound["bound_s"], bound_ms=_ms(bound["bound_s"]),
                   bound_after_ms=_ms(after["bound_s"]), bound_min_ms=_ms(bound_min_s), pass_ms=_ms(bound["pass_s"]),
                   kernels=bound["kernels"], iter_s=iter_s, iter_ms=_ms(iter_s), iter_ms_min=_ms(float(times.min())),
                   ratio=round(ratio, 3), ratio_best=round(float(times.min()) / bound_min_s, 3),
                   effective_gflops=round(bound["gemm_gflop"] / iter_s, 2),
                   meets_target=None if rec["target"] is None else bool(ratio <= rec["target"]))
        log(f"{where}: {rec['iter_ms']:.1f} ms/iter, bound {rec['bound_ms']:.1f} ms, ratio {ratio:.2f} "
            f"(best case {rec['ratio_best']:.2f})")
    return records
