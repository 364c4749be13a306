"""Run the nmdcore benchmarks: ``python -m benchmarks.run [--quick | --smoke] [flags]``.

Parts: ``speed`` (per-iteration time next to its GEMM bound), ``convergence`` (ReLU error
versus seconds from a common start) and ``memory`` (tracemalloc peak in m×n arrays). Results
go to ``benchmarks/results/`` as JSON and CSV plus PNG plots; repeated or chunked runs merge
into the same files (a record is replaced by a newer one with the same data, dtype, rank and
solver). See benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import datetime
import sys
import uuid
from pathlib import Path

from benchmarks import convergence, memory, plots, speed
from benchmarks.costs import target_ratio
from benchmarks._common import (
    DATASET_NAMES, RESULTS, DatasetUnavailable, environment, load_dataset, log, merge_records, solver_variants,
    write_csv)

PARTS = ("speed", "convergence", "memory")

#: Settings of each part for the full sweep, --quick (a few minutes) and --smoke (seconds, for the tests).
PRESETS = {
    "full": {
        "speed": dict(data=["synthetic", "mnist10k", "mnist5k"], ranks=[16, 32, 64, 128],
                      dtypes=["float64", "float32"], max_iter=10, warmup=2, min_timed_s=1.0, repeats=5,
                      budget=300.0, start="tsvd"),
        "convergence": dict(data=["synthetic", "mnist10k"], ranks=[32], dtypes=["float64"], time_limit=60.0,
                            max_iter=100000, start="random"),
        # counted in m×n arrays the figures hardly depend on the size; 10000 rows keep CD feasible
        "memory": dict(data=["synthetic"], ranks=[32], dtypes=["float64", "float32"], max_iter=2, start="tsvd",
                       shape=(10000, 784)),
    },
    "quick": {
        # only the solvers with a speed goal (three-block, latent with randomized TSVD)
        "speed": dict(data=["synthetic"], ranks=[32], dtypes=["float64", "float32"], max_iter=6, warmup=2,
                      min_timed_s=0.5, repeats=3, budget=20.0, start="tsvd", targets_only=True),
        "convergence": dict(data=["mnist10k"], ranks=[16], dtypes=["float64"], time_limit=3.0, max_iter=100000,
                            start="random", max_rows=5000),
        "memory": dict(data=["synthetic"], ranks=[16], dtypes=["float64"], max_iter=2, start="tsvd",
                       shape=(3000, 784)),
    },
    "smoke": {
        "speed": dict(data=["synthetic"], ranks=[4], dtypes=["float64", "float32"], max_iter=3, warmup=1,
                      min_timed_s=0.0, repeats=1,
                      budget=20.0, start="tsvd", shape=(240, 60)),
        "convergence": dict(data=["synthetic"], ranks=[4], dtypes=["float64"], time_limit=0.5, max_iter=20,
                            start="random", shape=(240, 60)),
        "memory": dict(data=["synthetic"], ranks=[4], dtypes=["float64"], max_iter=2, start="tsvd",
                       shape=(240, 60)),
    },
}


def _csv_list(text):
    return [t.strip() for t in text.split(",") if t.strip()]


def _int_list(text):
    return [int(t) for t in _csv_list(text)]


def _shape(text):
    m, n = text.lower().split("x")
    return int(m), int(n)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true",
                      help="a few minutes: the solvers with a speed target at r = 32 and MNIST scale, short runs")
    size.add_argument("--smoke", action="store_true", help="seconds: tiny matrices (used by the test suite)")
    p.add_argument("--parts", type=_csv_list, default=list(PARTS), help=f"comma list of {', '.join(PARTS)}")
    p.add_argument("--data", type=_csv_list, help=f"comma list of {', '.join(DATASET_NAMES)}")
    p.add_argument("--solvers", type=_csv_list,
                   help="comma list of solver keys or variants, e.g. bcd,a_nmd[randomized]")
    p.add_argument("--ranks", type=_int_list, help="comma list of ranks, e.g. 16,32,64,128")
    p.add_argument("--dtypes", type=_csv_list, help="comma list of float64, float32")
    p.add_argument("--max-iter", type=int, help="iterations per speed/memory run (speed: at least warm-up + 2)")
    p.add_argument("--warmup", type=int, help="speed: iterations left out of the median at the start of a run")
    p.add_argument("--min-timed", type=float, dest="min_timed_s",
                   help="speed: seconds the timed iterations should span at least (more iterations when short)")
    p.add_argument("--time-limit", type=float, help="seconds per solver in the convergence part")
    p.add_argument("--budget", type=float, help="seconds allowed per speed run; longer ones are skipped")
    p.add_argument("--repeats", type=int, help="repetitions of each bound kernel (median)")
    p.add_argument("--start", choices=("tsvd", "random"), help="common start for every solver")
    p.add_argument("--shape", type=_shape, help="size of the synthetic matrix, e.g. 50000x784")
    p.add_argument("--max-rows", type=int, help="keep only the first rows of a real dataset")
    p.add_argument("--out", type=Path, default=RESULTS, help=f"results folder (default {RESULTS})")
    p.add_argument("--no-plot", action="store_true", help="write JSON/CSV only")
    args = p.parse_args(argv)
    unknown = sorted(set(args.parts) - set(PARTS))
    if unknown:
        p.error(f"unknown part {unknown[0]!r} (choose from {', '.join(PARTS)})")
    if args.max_iter is not None and args.max_iter < 1:
        p.error("--max-iter must be at least 1")
    if args.warmup is not None and args.warmup < 1:
        p.error("--warmup must be at least 1 (the first iteration carries one-off costs)")
    return args


def settings(args, part: str) -> dict:
    """The preset of ``part`` with the command-line flags laid over it."""
    preset = dict(PRESETS["smoke" if args.smoke else "quick" if args.quick else "full"][part])
    overrides = {"data": args.data, "ranks": args.ranks, "dtypes": args.dtypes, "max_iter": args.max_iter,
                 "warmup": args.warmup, "min_timed_s": args.min_timed_s,
                 "time_limit": args.time_limit, "budget": args.budget, "repeats": args.repeats,
                 "start": args.start, "shape": args.shape, "max_rows": args.max_rows}
    preset.update({k: v for k, v in overrides.items() if v is not None and (k in preset or k in ("shape", "max_rows"))})
    if part == "speed" and preset["max_iter"] < preset["warmup"] + 2:
        preset["max_iter"] = preset["warmup"] + 2  # the warm-up is left out and a median needs two more
    return preset


def _datasets(cfg, skipped):
    out = []
    for name in cfg["data"]:
        try:
            out.append(load_dataset(name, shape=cfg.get("shape"), max_rows=cfg.get("max_rows")))
        except DatasetUnavailable as exc:
            log(f"dataset {name} skipped: {exc}")
            skipped.append({"data": name, "reason": str(exc)})
    return out


def _plot(fn, records, path, enabled):
    if not enabled:
        return None
    try:
        written = fn(records, path)
    except ImportError:
        log("matplotlib is not installed (pip install -r benchmarks/requirements.txt): no plot")
        return None
    if written:
        log(f"wrote {written}")
    return written


def main(argv=None) -> dict:
    """Run the selected parts; return ``{part: merged records}`` (also written under ``--out``)."""
    args = parse_args(argv)
    variants = solver_variants(args.solvers)
    if args.solvers:
        known = {v.label for v in variants} | {v.spec.key for v in variants}
        for name in sorted(set(args.solvers) - known):
            log(f"solver {name!r} is not a benchmarkable solver of this nmdcore; ignored")
    log(f"solvers: {', '.join(v.label for v in variants) or 'none'}")
    run_id = f"{datetime.datetime.now(datetime.timezone.utc):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
    out = args.out
    results = {}
    for part in (p for p in PARTS if p in args.parts):
        cfg = settings(args, part)
        env = {**environment(), "settings": {k: v for k, v in cfg.items()}}
        part_variants = variants
        if cfg.get("targets_only") and not args.solvers:
            part_variants = [v for v in variants
                             if any(target_ratio(v.spec, v.spec.resolve(v.hyperparams), r) for r in cfg["ranks"])]
        skipped = []
        datasets = _datasets(cfg, skipped)
        common = dict(start=cfg["start"], run_id=run_id)
        if part == "speed":
            records = speed.run_speed(datasets, cfg["ranks"], cfg["dtypes"], part_variants,
                                      max_iter=cfg["max_iter"], warmup=cfg["warmup"], repeats=cfg["repeats"],
                                      min_timed_s=cfg["min_timed_s"], budget_s=cfg["budget"],
                                      **common)
            key, fields, plot = speed.KEY_FIELDS, speed.CSV_FIELDS, plots.plot_speed
        elif part == "convergence":
            records = convergence.run_convergence(datasets, cfg["ranks"], cfg["dtypes"], part_variants,
                                                  time_limit=cfg["time_limit"], max_iter=cfg["max_iter"], **common)
            key, fields, plot = convergence.KEY_FIELDS, convergence.SUMMARY_FIELDS, plots.plot_convergence
        else:
            records = memory.run_memory(datasets, cfg["ranks"], cfg["dtypes"], part_variants,
                                        max_iter=cfg["max_iter"], **common)
            key, fields, plot = memory.KEY_FIELDS, memory.CSV_FIELDS, plots.plot_memory
        env["load_average_after"] = environment()["load_average"]
        env["skipped_datasets"] = skipped
        merged = merge_records(out / f"{part}.json", records, key, env)
        write_csv(out / f"{part}.csv", merged, fields)
        if part == "convergence":
            write_csv(out / "convergence_traces.csv", convergence.long_rows(merged), convergence.CSV_FIELDS)
        _plot(plot, merged, out / f"{part}.png", not args.no_plot)
        log(f"{part}: {len(records)} new records, {len(merged)} in {out / (part + '.json')}")
        results[part] = merged
    return results


if __name__ == "__main__":
    main()
