"""ReLU error versus seconds for every solver from the same start on the same data (the papers' plots)."""
from __future__ import annotations

import gc

import numpy as np

import nmdcore

from ._common import call_solver, each_configuration, finite_or_none, log

KEY_FIELDS = ("data", "m", "n", "dtype", "rank", "variant")
CSV_FIELDS = ("data", "dtype", "rank", "variant", "iteration", "time_s", "relu_error", "objective")
SUMMARY_FIELDS = ("data", "m", "n", "dtype", "rank", "variant", "status", "n_iter", "stop_reason",
                  "final_relu_error", "best_relu_error", "tsvd_relu_error", "time_limit", "start", "run_id")


def _finite_list(values):
    return [finite_or_none(v) for v in values]


def run_convergence(datasets, ranks, dtypes, variants, *, time_limit, max_iter, start, run_id) -> list[dict]:
    """Run each variant for ``time_limit`` seconds (or ``max_iter`` iterations); keep its whole history."""
    records = []
    baseline = {}
    for X, r, variant, init, rec in each_configuration(datasets, ranks, dtypes, variants, start=start,
                                                       records=records, time_limit=time_limit,
                                                       max_iter=max_iter, run_id=run_id):
        problem_key = (rec["data"], X.shape, rec["dtype"], r)
        if problem_key not in baseline:
            baseline[problem_key] = finite_or_none(nmdcore.decompose(X, r, "tsvd").relu_error)
        rec["tsvd_relu_error"] = baseline[problem_key]
        if init is None:
            continue
        res = call_solver(X, r, variant, init, rec, "convergence", max_iter=max_iter, time_limit=time_limit)
        if res is None:
            continue
        h = res.history
        errors = np.asarray(h["relu_error"])
        rec.update(status="ok", n_iter=res.n_iter, stop_reason=res.stop_reason,
                   time_s=_finite_list(h["time"]), relu_error=_finite_list(errors),
                   objective=_finite_list(h["objective"]), final_relu_error=finite_or_none(res.relu_error),
                   best_relu_error=finite_or_none(np.nanmin(errors)) if errors.size else None)
        log(f"convergence {rec['data']} {rec['dtype']} r={r} {variant.label}: {res.n_iter} iterations in "
            f"{h['time'][-1]:.1f} s, relu_error {res.relu_error:.4g} ({res.stop_reason})")
        del res, h
        gc.collect()
    return records


def long_rows(records) -> list[dict]:
    """One CSV row per recorded iteration."""
    rows = []
    for rec in records:
        if rec.get("status") != "ok":
            continue
        for k, (t, e, o) in enumerate(zip(rec["time_s"], rec["relu_error"], rec["objective"])):
            rows.append({"data": rec["data"], "dtype": rec["dtype"], "rank": rec["rank"], "variant": rec["variant"],
                         "iteration": k, "time_s": t, "relu_error": e, "objective": o})
    return rows
