"""Iterations of gradient descent to reach a tolerance versus the condition number κ.

``python -m benchmarks.bench_gd_condition`` (or ``python -m benchmarks.bench_gd_condition``).

Ye & Du (2021), "Global convergence of gradient descent for asymmetric low-rank matrix
factorization" (NeurIPS 2021), proves that gradient descent on ½‖U Vᵀ − Σ‖_F² from a small
random start reaches the global minimum of an exactly rank-d Σ in a number of iterations
polynomial in κ = σ₁(Σ)/σ_d(Σ). This script measures that number for ``nmdcore``'s ``gd``
solver (default step η = 0.2/σ₁, init_scale 1e-3): Σ = P diag(s) Qᵀ with random orthonormal
P, Q and singular values spaced geometrically from 1 down to 1/κ; for every κ and seed it
counts the iterations until ‖U Vᵀ − Σ‖_F/‖Σ‖_F < tol, and fits the slope of log(iterations)
against log(κ). The table is printed; the per-run rows go to
``benchmarks/results/gd_condition.csv``.
"""
from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

import nmdcore

RESULTS = Path(__file__).resolve().parent / "results"
FIELDS = ("kappa", "seed", "m", "n", "rank", "step", "init_scale", "tol", "iterations",
          "stop_reason", "final_error", "max_imbalance", "seconds")


def conditioned_matrix(m: int, n: int, rank: int, kappa: float, seed: int) -> np.ndarray:
    """Rank-``rank`` m×n matrix with singular values 1, ..., 1/κ (geometric) and random singular vectors."""
    rng = np.random.default_rng(seed)
    P, _ = np.linalg.qr(rng.standard_normal((m, rank)))
    Q, _ = np.linalg.qr(rng.standard_normal((n, rank)))
    values = kappa ** -np.linspace(0.0, 1.0, rank) if rank > 1 else np.ones(1)
    return (P * values) @ Q.T


def run_one(kappa, seed, args) -> dict:
    m, n = args.shape
    Sigma = conditioned_matrix(m, n, args.rank, kappa, seed)
    start = time.perf_counter()
    res = nmdcore.decompose(Sigma, args.rank, solver="gd", init="random", max_iter=args.max_iter,
                            tol=args.tol, tol_stall=0, random_state=seed, step=args.step,
                            init_scale=args.init_scale)
    seconds = time.perf_counter() - start
    return {"kappa": kappa, "seed": seed, "m": m, "n": n, "rank": args.rank, "step": args.step,
            "init_scale": args.init_scale, "tol": args.tol,
            "iterations": res.n_iter if res.stop_reason == "tol" else "",
            "stop_reason": res.stop_reason, "final_error": float(res.history["objective"][-1]),
            "max_imbalance": float(np.max(res.history["imbalance"])), "seconds": round(seconds, 3)}


def summarise(rows, kappas) -> list[dict]:
    """Median, min and max iterations per κ (None where some run did not reach tol)."""
    table = []
    for kappa in kappas:
        runs = [r for r in rows if r["kappa"] == kappa]
        its = [r["iterations"] for r in runs if r["iterations"] != ""]
        done = len(its) == len(runs)
        table.append({"kappa": kappa, "runs": len(runs), "reached": len(its),
                      "median": float(np.median(its)) if done else None,
                      "min": min(its) if its else None, "max": max(its) if its else None})
    return table


def fitted_exponent(table) -> float | None:
    """Least-squares slope of log(median iterations) against log κ over κ ≥ 2."""
    points = [(np.log(t["kappa"]), np.log(t["median"])) for t in table
              if t["kappa"] >= 2 and t["median"] is not None]
    if len(points) < 2:
        return None
    x, y = np.array(points).T
    return float(np.polyfit(x, y, 1)[0])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kappas", type=float, nargs="+", default=[1, 2, 5, 10, 20, 50, 100, 200, 500])
    parser.add_argument("--seeds", type=int, default=5, help="runs per κ (seeds 0..seeds-1)")
    parser.add_argument("--shape", type=int, nargs=2, default=[100, 80], metavar=("M", "N"))
    parser.add_argument("--rank", type=int, default=4)
    parser.add_argument("--tol", type=float, default=1e-6, help="relative error to reach")
    parser.add_argument("--step", type=float, default=0.2, help="η in units of 1/σ₁")
    parser.add_argument("--init-scale", type=float, default=1e-3)
    parser.add_argument("--max-iter", type=int, default=200000)
    parser.add_argument("--out", type=Path, default=RESULTS / "gd_condition.csv")
    args = parser.parse_args(argv)

    rows = []
    for kappa in args.kappas:
        for seed in range(args.seeds):
            rows.append(run_one(kappa, seed, args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)

    table = summarise(rows, args.kappas)
    m, n = args.shape
    print(f"gd on rank-{args.rank} {m}x{n} matrices, singular values 1..1/κ; step {args.step}/σ₁, "
          f"init_scale {args.init_scale}; iterations until relative error < {args.tol:g}")
    print(f"{'kappa':>7} {'reached':>8} {'median':>9} {'min':>8} {'max':>8} {'median/kappa':>13}")
    for t in table:
        med = "-" if t["median"] is None else f"{t['median']:.0f}"
        ratio = "-" if t["median"] is None else f"{t['median'] / t['kappa']:.1f}"
        print(f"{t['kappa']:>7g} {t['reached']:>4}/{t['runs']:<3} {med:>9} {t['min'] or '-':>8} "
              f"{t['max'] or '-':>8} {ratio:>13}")
    slope = fitted_exponent(table)
    if slope is not None:
        print(f"fitted exponent: iterations ~ kappa^{slope:.2f} (kappa >= 2)")
    print(f"rows: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
