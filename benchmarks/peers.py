"""Time to the peers' errors: nmdcore next to recorded runs of the authors' codes and fi_nomad.

``python -m benchmarks.peers [--case pmnist50k_r32] [--solvers ebcd,em] [--dtype float64]``

The peers' runs are measurements kept beside the checkout (``../shared/peers/``: the
authors' MATLAB codes under Octave and fi_nomad, each run for 5 s and for 20 s from the
same Gaussian start, on inputs its ``make_inputs.py`` rebuilds). This command rebuilds an
input, runs nmdcore's matching solver from that start with the peer's settings, and
reports, for each peer, the median over its repetitions of the error it reached after 5 s
and after 20 s, the seconds nmdcore needed to reach each (its clock starts at the call to
:func:`nmdcore.decompose`, so validation, setup and the start's error count), and the
speedup ``peer seconds / nmdcore seconds``. It draws error versus seconds with the
peers' curves. Without ``../shared/peers`` it says so and exits cleanly.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np

import nmdcore

from ._common import RESULTS, environment, log

#: The recorded runs: ``shared/peers`` beside the checkout (``NMD_SHARED`` overrides shared/).
PEERS = Path(os.environ.get("NMD_SHARED", Path(__file__).resolve().parents[1].parent / "shared")) / "peers"

#: Peer name in the recorded files -> (nmdcore solver, hyperparameters): the settings of the
#: peers' README (eBCD α=1, μ=0.3, α_max=4, δ̄=0.8; 3B β=0.7; A-NMD β=0.7, η=0.4, γ=1.1, γ̄=1.05;
#: NMD-TM λ=1e-4 with momenta 0.95 and 0.95 − 1; fi_nomad with the randomized truncated SVD).
SOLVER_OF_PEER = {
    "eBCD_NMD": ("ebcd", {}),
    "NMD_3B": ("nmd_3b", {}),
    "A_NMD": ("a_nmd", {}),
    "NMD_TM": ("nmd_tm", {}),
    "BASE_MODEL_FREE": ("naive", {"tsvd": "randomized"}),
    "GAUSSIAN_MODEL_SINGLE_VARIANCE": ("em", {"tsvd": "randomized"}),
}
BUDGETS = (5, 20)


def available() -> bool:
    """Whether the peers' recorded runs are beside the checkout."""
    return (PEERS / "make_inputs.py").is_file() and (PEERS / "traces").is_dir()


def _make_inputs():
    spec = importlib.util.spec_from_file_location("peer_inputs", PEERS / "make_inputs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def peer_targets(case: str) -> list[dict]:
    """One record per peer and budget: the median error it reached and the median seconds it took."""
    runs = {}
    for path in sorted((PEERS / "traces").glob(f"{case}_*_rep*.txt")):
        name, budget = path.stem[len(case) + 1:].rsplit("_rep", 1)[0].rsplit("_", 1)
        trace = np.loadtxt(path, ndmin=2)
        runs.setdefault((name, int(budget)), []).append((float(trace[-1, 1]), float(trace[-1, 0]), trace))
    for path in sorted((PEERS / "traces").glob(f"finomad_{case}_*_rep*.json")):
        for run in json.loads(path.read_text()):
            for budget in BUDGETS:
                runs.setdefault((run["method"], budget), []).append(
                    (float(run[f"err@{budget}"]), float(run[f"t@{budget}"]), None))
    targets = []
    for (name, budget), reps in sorted(runs.items()):
        if name not in SOLVER_OF_PEER:
            continue
        targets.append({"peer": name, "budget_s": budget, "error": statistics.median(r[0] for r in reps),
                        "peer_s": statistics.median(r[1] for r in reps), "reps": len(reps),
                        "traces": [r[2].tolist() for r in reps if r[2] is not None]})
    return targets


def start_for(spec, W0, H0, X):
    """The peers' start in the names ``spec`` takes: (W0, H0), or Θ0 = W0 H0 with Z0 = X.

    Z0 = X is the latent solvers' default, so it is not passed: an explicit Z0 is copied (the
    solver owns its start), and passing X would cost a copy of X that the default avoids.
    """
    if "W" in spec.start_names:
        return {"W": W0, "H": H0}
    return {"theta": W0 @ H0}


def run_to(X, r, solver, hyperparams, init, target: float, time_limit: float, dtype) -> dict:
    """Run until the ReLU error is at most ``target`` (or ``time_limit``); seconds counted from the call."""
    trace = []
    t_call = time.perf_counter()

    def record(progress):
        trace.append((time.perf_counter() - t_call, progress.relu_error))
        return progress.relu_error <= target

    res = nmdcore.decompose(X, r, solver=solver, init=init, max_iter=100000, time_limit=time_limit, tol=0,
                            tol_stall=0, callback=record, dtype=dtype, random_state=0, **hyperparams)
    return {"trace": trace, "setup_s": trace[0][0], "total_s": time.perf_counter() - t_call,
            "stop_reason": res.stop_reason, "n_iter": res.n_iter}


def seconds_to(trace, error: float):
    """The first time in ``trace`` (seconds, error) at which the error is at most ``error``; None if never."""
    return next((t for t, e in trace if e <= error), None)


def compare(case: str, solvers=None, dtype="float64", time_limit: float = 30.0, repeats: int = 3) -> list[dict]:
    """Run each matching nmdcore solver ``repeats`` times on ``case``; one record per peer and budget.

    The speedup uses the median of the runs' seconds to the peer's error; the slowest run is
    kept too (``nmdcore_s_worst``): the first large arrays of a process can cost the system
    a second or more to map, and that varies from run to run.
    """
    X, r, W0, H0 = _make_inputs().load_case(case)
    log(f"{case}: X {X.shape[0]}x{X.shape[1]}, r = {r}, {np.mean(X == 0):.0%} zeros")
    targets = peer_targets(case)
    records = []
    for peer in dict.fromkeys(t["peer"] for t in targets):
        solver, hyperparams = SOLVER_OF_PEER[peer]
        if solvers and solver not in solvers:
            continue
        mine = [t for t in targets if t["peer"] == peer]
        spec = nmdcore.get_solver(solver)
        runs = [run_to(X, r, solver, hyperparams, start_for(spec, W0, H0, X), min(t["error"] for t in mine),
                       time_limit, dtype) for _ in range(repeats)]
        setup = statistics.median(run["setup_s"] for run in runs)
        for t in mine:
            seconds = [seconds_to(run["trace"], t["error"]) for run in runs]
            reached = None if None in seconds else statistics.median(seconds)
            records.append({"case": case, "peer": peer, "solver": solver, "dtype": dtype, "budget_s": t["budget_s"],
                            "peer_error": t["error"], "peer_s": t["peer_s"], "peer_reps": t["reps"],
                            "nmdcore_s": reached, "nmdcore_s_runs": seconds,
                            "nmdcore_s_worst": None if reached is None else max(seconds),
                            "speedup": None if reached is None else t["peer_s"] / reached,
                            "setup_s": setup, "setup_s_runs": [run["setup_s"] for run in runs],
                            "n_iter": runs[0]["n_iter"], "trace": runs[0]["trace"], "peer_traces": t["traces"]})
            log(f"  {solver:7s} vs {peer} ({t['budget_s']:2d} s, error {t['error']:.4g}): "
                + ("not reached" if reached is None else
                   f"{reached:.2f} s -> {t['peer_s'] / reached:.1f}x (median of {repeats}; slowest "
                   f"{max(seconds):.2f} s; setup {setup:.2f} s)"))
    return records


def plot(records: list[dict], path: Path) -> Path | None:
    """Error versus seconds: nmdcore's runs (solid) and the peers' recorded traces (dashed)."""
    if not records:
        return None
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = list(dict.fromkeys((r["case"], r["peer"]) for r in records))
    cols = min(3, len(panels))
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.6 * rows), squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax, (case, peer) in zip(axes.flat, panels):
        mine = [r for r in records if r["peer"] == peer and r["case"] == case]
        t, e = zip(*mine[0]["trace"])
        ax.semilogy(t, e, "-", color="C0", label=f"nmdcore {mine[0]['solver']}")
        for rec in mine:
            for k, trace in enumerate(rec["peer_traces"]):
                tt, ee = zip(*trace)
                ax.semilogy(tt, ee, "--", color="C1" if rec["budget_s"] == 20 else "C2", alpha=0.6,
                            label=f"{peer} {rec['budget_s']} s" if k == 0 else None)
            if not rec["peer_traces"]:  # fi_nomad: its recorded errors after 5 s and 20 s only
                ax.plot([rec["peer_s"]], [rec["peer_error"]], "o", color="C1" if rec["budget_s"] == 20 else "C2",
                        label=f"{peer} after {rec['budget_s']} s (median)")
            ax.axhline(rec["peer_error"], color="grey", lw=0.6)
        ax.set_xscale("symlog", linthresh=1.0)
        ax.set_xlabel("seconds from the call")
        ax.set_ylabel("‖X − max(0, Θ)‖_F / ‖X‖_F")
        ax.set_title(f"{mine[0]['case']}: {peer}", fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", action="append", help="pmnist50k_r32 and/or synth10k_r32 (default: both)")
    parser.add_argument("--solvers", help="comma-separated nmdcore keys (default: every one with a peer)")
    parser.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    parser.add_argument("--time-limit", type=float, default=30.0, help="seconds per nmdcore run at most")
    parser.add_argument("--repeats", type=int, default=3, help="runs per solver (the median counts)")
    args = parser.parse_args(argv)
    if not available():
        print(f"peers comparison skipped: no recorded peer runs at {PEERS}")
        return 0
    nmdcore.warmup()  # compiled kernels, as in the app: the clock then measures the runs, not numba
    records = []
    for case in args.case or ["pmnist50k_r32", "synth10k_r32"]:
        records += compare(case, args.solvers.split(",") if args.solvers else None, args.dtype, args.time_limit,
                           args.repeats)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"peers_{args.dtype}.json"
    out.write_text(json.dumps({"environment": environment(), "records": records}, indent=1))
    figure = plot(records, RESULTS / f"peers_{args.dtype}.png")
    print(f"{'case':14s} {'solver':7s} {'peer':32s} {'budget':>6s} {'peer err':>9s} {'peer s':>7s} "
          f"{'nmdcore s':>9s} {'slowest':>8s} {'speedup':>8s}")
    for r in records:
        reached = "-" if r["nmdcore_s"] is None else f"{r['nmdcore_s']:.2f}"
        worst = "-" if r["nmdcore_s_worst"] is None else f"{r['nmdcore_s_worst']:.2f}"
        speedup = "-" if r["speedup"] is None else f"{r['speedup']:.1f}x"
        print(f"{r['case']:14s} {r['solver']:7s} {r['peer']:32s} {r['budget_s']:>5d}s {r['peer_error']:9.4g} "
              f"{r['peer_s']:7.2f} {reached:>9s} {worst:>8s} {speedup:>8s}")
    print(f"results: {out}" + (f", figure: {figure}" if figure else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
