"""The symmetric solvers' tables of Wang et al. (2025): ``python -m benchmarks.bench_symmetric [--quick]``.

Table 1 (synthetic): the relative ReLU error ‖M − max(0, Θ)‖_F/‖M‖_F of every symmetric solver
and TSVD on matrices of Wang et al. (2025), eq. (11) (``nmdcore.synthetic.symmetric_relu``), for several
sparsity levels (threshold) × ranks r.

Table 3 (real data): the same errors on normalised self-tuning kNN similarity graphs
(``nmdcore.similarity.knn_similarity``) of the image sets in ../shared/datasets (ORL, Extended
Yale B, the PIE subset, Yale), with r = the number of classes; absent sets are skipped.

Every iterative solver runs until ``--max-iter`` iterations or ``--time-limit`` seconds
(stall and tolerance rules off, as in the paper's runs); NSMD starts from the eigen start
(``init="tsvd"``), SymANLS/SymHALS from their reference start U0 = V0 ~ U(0, 1) (seed 0).
The CSV also holds ½‖M − max(0, Θ)‖_F²/‖M‖_F² (``half_sq_error``): the paper's Table 3 values
match this quantity (the error SymANLS/SymHALS record), not the relative error itself. For
SymNMF it also holds ‖M − UUᵀ‖_F/‖M‖_F (the symmetric factor alone).
Results: ``benchmarks/results/symmetric_table1.csv`` and ``symmetric_table3.csv`` (+ a JSON
file with the environment).
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

import nmdcore
from nmdcore.similarity import knn_similarity
from nmdcore.synthetic import symmetric_relu

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NMD_SHARED", REPO.parent / "shared"))
RESULTS = Path(__file__).resolve().parent / "results"

SOLVERS = ("tsvd", "sym_anls", "sym_hals", "nsmd_apb", "nsmd_aapb")

#: Table 1 settings: size n and generating rank of eq. (11), then (threshold, r) columns.
SYNTHETIC_N = 500
SYNTHETIC_GEN_RANK = 30
SYNTHETIC_SEED = 0
SYNTHETIC_COLUMNS = ((0.0, 30), (0.0, 40), (0.1, 60), (0.1, 100), (0.3, 60), (0.3, 100))

#: Table 3 image sets: label, file, r (paper's r = number of classes; our PIE is a 10-subject subset).
IMAGE_SETS = (
    ("ORL", "orl_faces_64x64.npz", 40),
    ("YaleB", "yaleb_32x32.npz", 38),
    ("PIE (10 subjects)", "pie_32x32_10subjects.npz", 10),
    ("Yale", "yale_32x32.npz", 15),
)

#: Wang et al. (2025)'s published numbers (Table 3: relative error; COIL20/COIL100/TDT2 are not shipped here).
PAPER_TABLE3 = {
    "ORL": {"sym_anls": 0.21, "sym_hals": 0.21, "nsmd_apb": 0.17, "nsmd_aapb": 0.16},
    "YaleB": {"sym_anls": 0.41, "sym_hals": 0.41, "nsmd_apb": 0.37, "nsmd_aapb": 0.36},
    "PIE (10 subjects)": {"sym_anls": 0.38, "sym_hals": 0.39, "nsmd_apb": 0.37, "nsmd_aapb": 0.30},
}

FIELDS = ("table", "data", "n", "zeros", "threshold", "rank", "solver", "relu_error", "half_sq_error", "sym_error_UUt",
          "objective", "n_iter", "stop_reason", "seconds", "paper")


def log(message: str) -> None:
    print(f"[bench {datetime.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def environment() -> dict:
    """Versions, BLAS threads and load, stored beside the CSV files."""
    from threadpoolctl import threadpool_info
    return {"date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "command": " ".join(sys.argv), "python": platform.python_version(), "numpy": np.__version__,
            "nmdcore": nmdcore.__version__, "cpu_count": os.cpu_count(),
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
            "blas": [(i.get("internal_api"), i.get("num_threads")) for i in threadpool_info()]}


def run_solver(M: np.ndarray, r: int, key: str, *, max_iter: int, time_limit: float) -> dict:
    """One run from the documented start; returns the row fields it determines."""
    init = "random" if key.startswith("sym_") else "tsvd"
    t0 = time.perf_counter()
    res = nmdcore.decompose(M, r, solver=key, init=init, max_iter=max_iter, time_limit=time_limit,
                            tol=0, tol_stall=0, random_state=SYNTHETIC_SEED)
    seconds = time.perf_counter() - t0
    row = {"solver": key, "rank": r, "relu_error": res.relu_error, "half_sq_error": 0.5 * res.relu_error ** 2,
           "objective": res.history["objective"][-1],
           "n_iter": res.n_iter, "stop_reason": res.stop_reason, "seconds": round(seconds, 3), "sym_error_UUt": ""}
    if key.startswith("sym_"):
        U = res.factors["U"]
        row["sym_error_UUt"] = float(np.linalg.norm(M - U @ U.T) / np.linalg.norm(M))
    return row


def table1(args) -> list[dict]:
    rows = []
    n = args.n
    for threshold, r in args.columns:
        M = symmetric_relu(n, args.gen_rank, threshold=threshold, random_state=SYNTHETIC_SEED)
        zeros = float(np.mean(M == 0))
        for key in args.solvers:
            row = run_solver(M, r, key, max_iter=args.max_iter, time_limit=args.time_limit)
            row.update(table=1, data=f"eq11(n={n}, r={args.gen_rank})", n=n, zeros=round(zeros, 4),
                       threshold=threshold, paper="")
            log(f"table 1  threshold={threshold} r={r} {key:10s} relu_error={row['relu_error']:.3e} "
                f"({row['n_iter']} it, {row['seconds']} s)")
            rows.append(row)
    return rows


def table3(args) -> list[dict]:
    rows = []
    for label, filename, r in IMAGE_SETS:
        if args.datasets and label.split()[0] not in args.datasets:
            continue
        path = SHARED / "datasets" / filename
        if not path.exists():
            log(f"table 3  {label}: {path} is absent, skipped")
            continue
        with np.load(path) as d:
            images = d["X"].astype(np.float64) / 255.0
        t0 = time.perf_counter()
        M = knn_similarity(images, items="rows")
        log(f"table 3  {label}: similarity graph {M.shape[0]}x{M.shape[0]}, {M.nnz} nonzeros "
            f"({time.perf_counter() - t0:.1f} s)")
        zeros = 1.0 - M.nnz / M.shape[0] ** 2
        M = M.toarray()
        for key in args.solvers:
            row = run_solver(M, r, key, max_iter=args.max_iter, time_limit=args.time_limit)
            row.update(table=3, data=label, n=M.shape[0], zeros=round(zeros, 4), threshold="",
                       paper=PAPER_TABLE3.get(label, {}).get(key, ""))
            log(f"table 3  {label} r={r} {key:10s} relu_error={row['relu_error']:.3e} "
                f"({row['n_iter']} it, {row['seconds']} s)")
            rows.append(row)
    return rows


def write(rows: list[dict], name: str, env: dict, settings: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.csv"
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    (RESULTS / f"{name}.json").write_text(json.dumps({"environment": env, "settings": settings}, indent=2))
    return path


def print_table(rows: list[dict], column_of) -> None:
    """Solvers as rows, settings as columns: relu_error (½·relu_error²) [published value, when known]."""
    columns = list(dict.fromkeys(column_of(r) for r in rows))
    solvers = list(dict.fromkeys(r["solver"] for r in rows))
    cell = {(r["solver"], column_of(r)): r for r in rows}
    width = max(26, *(len(c) for c in columns))
    print(" " * 10 + "".join(f"{c:>{width + 2}}" for c in columns))
    for key in solvers:
        parts = []
        for c in columns:
            r = cell.get((key, c))
            text = "" if r is None else (f"{r['relu_error']:.2e} ({r['half_sq_error']:.2e})"
                                         + (f" [{r['paper']:.2f}]" if r["paper"] != "" else ""))
            parts.append(f"{text:>{width + 2}}")
        print(f"{key:10s}" + "".join(parts))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="+", type=int, default=[1, 3], choices=[1, 3])
    parser.add_argument("--quick", action="store_true", help="small sizes and budgets (about a minute)")
    parser.add_argument("--max-iter", type=int, default=3000)
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds per solver run")
    parser.add_argument("--solvers", nargs="+", default=list(SOLVERS), choices=SOLVERS)
    parser.add_argument("--datasets", nargs="+", default=None, help="Table 3 sets: ORL YaleB PIE Yale")
    parser.add_argument("--blas-threads", type=int, default=None,
                        help="cap the BLAS threads (e.g. 1 on a shared, loaded machine); default: nmdcore's choice")
    args = parser.parse_args(argv)
    args.n, args.gen_rank, args.columns = SYNTHETIC_N, SYNTHETIC_GEN_RANK, SYNTHETIC_COLUMNS
    if args.quick:
        args.n, args.gen_rank, args.columns = 120, 8, ((0.0, 8), (0.1, 16), (0.3, 16))
        args.max_iter, args.time_limit = min(args.max_iter, 300), min(args.time_limit, 5.0)
        args.datasets = args.datasets or ["ORL", "Yale"]
    env = environment()
    settings = {k: v for k, v in vars(args).items()}
    limit = threadpool_limits(args.blas_threads, user_api="blas") if args.blas_threads else contextlib.nullcontext()
    with limit:
        run_tables(args, env, settings)
    return 0


def run_tables(args, env: dict, settings: dict) -> None:
    if 1 in args.tables:
        rows = table1(args)
        path = write(rows, "symmetric_table1", env, settings)
        print(f"\nTable 1 (relative ReLU error; n={args.n}, generating rank {args.gen_rank}) -> {path}")
        print_table(rows, lambda r: f"t={r['threshold']} r={r['rank']}")
    if 3 in args.tables:
        rows = table3(args)
        path = write(rows, "symmetric_table3", env, settings)
        print(f"\nTable 3 (relative ReLU error on kNN similarity graphs) -> {path}")
        print_table(rows, lambda r: f"{r['data'].split()[0]} r={r['rank']}")


if __name__ == "__main__":
    sys.exit(main())
