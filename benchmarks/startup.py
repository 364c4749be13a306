"""The time a user waits besides iterations: cold start, setup and finish, CD-NMD's iteration.

``python -m benchmarks.startup [--parts cold,setup,cd] [--solvers ebcd,em] [--repeats 3]``

- ``cold``: seconds from the call to :func:`nmdcore.decompose` until the first iteration
  begins (the callback at the start) and until it ends (its compiled kernels compile
  inside it when cold), on the MNIST sample (784×5000, r = 20, from its TSVD
  start computed before the call, as the app computes it once per data and rank),
  each solver in fresh processes: *cold* (an empty numba cache: everything compiles),
  *disk cache* (a later process: kernels load from numba's cache) and *warmed* (after
  :func:`nmdcore.warmup`, as in the app, whose server warms the engine at start).
- ``setup``: on 50000×784 (r = 32, random start, both dtypes; kernels warmed), the seconds
  before the first iteration and after the last, next to the median iteration.
- ``cd``: CD-NMD's seconds per iteration on the MNIST sample at r = 20 (TSVD start),
  the compiled sweeps against the pure NumPy path, and how far their iterates differ.

Every figure is the median of ``--repeats`` runs; on a machine shared with other work,
compare figures of one run only.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

import nmdcore
from nmdcore import datasets, synthetic

from ._common import RESULTS, environment, log

#: Solvers with compiled kernels (the others start in the same time cold or warm).
KERNEL_SOLVERS = ("naive", "a_nmd", "em", "a_em", "bcd", "ebcd", "nmd_3b", "nmd_tm", "cd")
SETUP_SOLVERS = ("naive", "a_nmd", "em", "a_em", "bcd", "ebcd", "nmd_3b", "nmd_tm")

_FIRST_ITERATION = """
import json, sys, time
import nmdcore
from nmdcore import datasets
X = datasets.load("mnist5k").X
solver, warm = sys.argv[1], sys.argv[2] == "warm"
if warm:
    nmdcore.warmup()
# the TSVD start, computed before the clock starts: the app computes it once per data and rank
base = nmdcore.decompose(X, 20, solver="bcd", init="tsvd", max_iter=0).factors
names = nmdcore.get_solver(solver).start_names
init = {"W": base["W"], "H": base["H"]} if "W" in names else {"theta": base["W"] @ base["H"]}
marks = []
t_call = time.perf_counter()
nmdcore.decompose(X, 20, solver=solver, init=init, max_iter=1, tol=0, tol_stall=0, random_state=0,
                  callback=lambda p: marks.append(time.perf_counter() - t_call))
print(json.dumps({"begins_s": marks[0], "first_iteration_s": marks[1] - marks[0]}))
"""


def first_iteration(solver: str, cache_dir: str, warm: bool) -> dict:
    """One fresh process: when the first iteration of ``solver`` begins after the call."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    out = subprocess.run([sys.executable, "-c", _FIRST_ITERATION, solver, "warm" if warm else "cold"],
                         capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def cold_start(solvers, repeats: int) -> list[dict]:
    """Per solver and scenario: when the first iteration begins and when it ends (seconds after the call)."""
    records = []
    scenarios = (("cold", False), ("disk cache", False), ("warmed", True))
    for solver in solvers:
        begins = {name: [] for name, _ in scenarios}
        ends = {name: [] for name, _ in scenarios}
        for _ in range(repeats):
            with tempfile.TemporaryDirectory(prefix="nmd-numba-") as cache_dir:
                for name, warm in scenarios:  # in this order: the cold process fills the cache
                    marks = first_iteration(solver, cache_dir, warm=warm)
                    begins[name].append(marks["begins_s"])
                    ends[name].append(marks["begins_s"] + marks["first_iteration_s"])
        rec = {"part": "cold", "solver": solver,
               **{f"{name} begins_s": statistics.median(v) for name, v in begins.items()},
               **{f"{name} ends_s": statistics.median(v) for name, v in ends.items()}}
        log(f"  {solver:7s} first iteration begins / ends after: "
            + ", ".join(f"{name} {rec[f'{name} begins_s']:.2f} / {rec[f'{name} ends_s']:.2f} s"
                        for name, _ in scenarios))
        records.append(rec)
    return records


def _timed_run(X, r, solver, max_iter, **options):
    marks = []
    t_call = time.perf_counter()
    nmdcore.decompose(X, r, solver=solver, max_iter=max_iter, tol=0, tol_stall=0, random_state=0,
                      callback=lambda p: marks.append(time.perf_counter() - t_call), **options)
    t_end = time.perf_counter() - t_call
    return marks[0], t_end - marks[-1], float(np.median(np.diff(marks)))


def setup_and_finish(solvers, repeats: int, shape=(50000, 784), r=32, max_iter=3) -> list[dict]:
    X64 = synthetic.relu_lowrank(*shape, r, sparsity=0.8, random_state=0)
    records = []
    for dtype in (np.float64, np.float32):
        X = X64.astype(dtype)
        for solver in solvers:
            runs = [_timed_run(X, r, solver, max_iter, init="random") for _ in range(repeats)]
            setup, finish, iteration = (statistics.median(v) for v in zip(*runs))
            rec = {"part": "setup", "solver": solver, "dtype": np.dtype(dtype).name, "m": shape[0], "n": shape[1],
                   "rank": r, "setup_s": setup, "finish_s": finish, "iteration_s": iteration,
                   "ratio": (setup + finish) / iteration}
            log(f"  {solver:7s} {rec['dtype']}: setup {setup:.3f} s + finish {finish:.3f} s = "
                f"{rec['ratio']:.2f} iterations of {iteration:.3f} s")
            records.append(rec)
    return records


def cd_iteration(repeats: int, r=20, max_iter=2) -> list[dict]:
    X = datasets.load("mnist5k").X
    results = {}
    for backend in ("numba", "numpy"):
        os.environ["NMD_KERNELS"] = backend
        try:
            runs = [nmdcore.decompose(X, r, solver="cd", max_iter=max_iter, tol=0, tol_stall=0, random_state=0)
                    for _ in range(repeats)]
        finally:
            del os.environ["NMD_KERNELS"]
        results[backend] = (statistics.median(float(np.median(np.diff(res.history["time"]))) for res in runs),
                            runs[0])
    compiled, numpy_path = results["numba"], results["numpy"]
    differ = {name: float(np.max(np.abs(compiled[1].factors[name] - numpy_path[1].factors[name]))
                          / np.max(np.abs(numpy_path[1].factors[name]))) for name in ("W", "H")}
    rec = {"part": "cd", "m": X.shape[0], "n": X.shape[1], "rank": r, "compiled_s": compiled[0],
           "numpy_s": numpy_path[0], "speedup": numpy_path[0] / compiled[0],
           "relu_error_compiled": compiled[1].history["relu_error"].tolist(),
           "relu_error_numpy": numpy_path[1].history["relu_error"].tolist(), "max_rel_diff": differ}
    log(f"  cd {X.shape[0]}x{X.shape[1]} r={r}: compiled {compiled[0]:.2f} s, NumPy {numpy_path[0]:.2f} s per "
        f"iteration ({rec['speedup']:.1f}x); errors {rec['relu_error_compiled']} vs {rec['relu_error_numpy']}")
    return [rec]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="cold,setup,cd")
    parser.add_argument("--solvers", help="comma-separated solver keys (default: those with kernels)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    parts = args.parts.split(",")
    chosen = args.solvers.split(",") if args.solvers else None
    records = []
    if "cold" in parts:
        log("first iteration after the call, MNIST sample 784x5000, r = 20")
        records += cold_start(chosen or KERNEL_SOLVERS, args.repeats)
    if "setup" in parts or "cd" in parts:
        nmdcore.warmup(chosen)
    if "setup" in parts:
        log("setup and finish next to one iteration, 50000x784, r = 32, random start")
        records += setup_and_finish(chosen or SETUP_SOLVERS, args.repeats)
    if "cd" in parts:
        log("CD-NMD per iteration, MNIST sample 784x5000, r = 20")
        records += cd_iteration(args.repeats)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "startup.json"
    out.write_text(json.dumps({"environment": environment(), "records": records}, indent=1))
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
