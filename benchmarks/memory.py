"""Peak memory of each solver (tracemalloc, which numpy reports its buffers to), in units of one m×n array.

Two figures per run:

* ``peak_arrays``: the traced peak of the whole :func:`nmdcore.decompose` call, transients
  included, divided by the bytes of one m×n array of the working dtype (the caller's X is
  allocated before tracing starts, so it is not counted; so is decompose's own copy of X when it
  makes one -- not for the C-contiguous arrays of the working dtype used here), split
  into ``setup_peak_arrays`` (validation and start, up to the callback at iteration 0) and
  ``iteration_peak_arrays`` (from there on: the arrays held plus the transients of an iteration);
* ``held_dense``: the m×n arrays alive after the first iteration (taken from a tracemalloc
  snapshot in the callback), i.e. the arrays the solver holds between iterations. Other large
  live blocks (index sets of X, masks) are summed in ``held_other_arrays``, and
  ``held_blocks`` says which line of nmdcore allocated each.
"""
from __future__ import annotations

import gc
import tracemalloc
from pathlib import Path

import nmdcore

from ._common import call_solver, each_configuration, log
from .costs import ARRAY_TARGETS

KEY_FIELDS = ("data", "m", "n", "dtype", "rank", "variant")
CSV_FIELDS = ("data", "m", "n", "dtype", "rank", "variant", "status", "peak_mb", "peak_arrays", "setup_peak_arrays",
              "iteration_peak_arrays", "held_dense", "transient_arrays",
              "held_other_arrays", "model_held", "model_peak_arrays", "target_dense", "meets_target", "start", "run_id")

#: Live blocks smaller than this fraction of one m×n array are ignored in the breakdown.
SMALL_FRACTION = 1 / 16
TRACE_FRAMES = 12


def _origin(traceback) -> str:
    """Most recent frame inside nmdcore (else the most recent one), as ``module/file.py:line``."""
    frames = list(traceback)
    chosen = next((f for f in reversed(frames) if "nmdcore" in Path(f.filename).parts), frames[-1])
    path = Path(chosen.filename)
    return f"{path.parent.name}/{path.name}:{chosen.lineno}"


def _held_blocks(mn_bytes: int) -> list[dict]:
    snapshot = tracemalloc.take_snapshot()
    blocks = {}
    for trace in snapshot.traces:
        if trace.size < mn_bytes * SMALL_FRACTION:
            continue
        where = _origin(trace.traceback)
        dense = trace.size == mn_bytes
        entry = blocks.setdefault((where, dense), {"where": where, "dense": dense, "count": 0, "bytes": 0})
        entry["count"] += 1
        entry["bytes"] += trace.size
    out = sorted(blocks.values(), key=lambda b: -b["bytes"])
    for b in out:
        b["arrays"] = round(b["bytes"] / mn_bytes, 3)
    return out


def run_memory(datasets, ranks, dtypes, variants, *, max_iter, start, run_id) -> list[dict]:
    """Run each variant for ``max_iter`` iterations under tracemalloc; one record per run."""
    records = []
    for X, r, variant, init, rec in each_configuration(datasets, ranks, dtypes, variants, start=start,
                                                       records=records, max_iter=max_iter, run_id=run_id):
        if init is None:
            continue
        mn_bytes = X.size * X.dtype.itemsize
        held = {}

        def watch(progress):
            if progress.iteration == 0:  # validation, copies and the start are done: peak of the setup
                held["setup_peak"] = tracemalloc.get_traced_memory()[1]
                tracemalloc.reset_peak()
            elif progress.iteration == 1 and "blocks" not in held:
                held["blocks"] = _held_blocks(mn_bytes)

        gc.collect()
        tracemalloc.start(TRACE_FRAMES)
        try:
            res = call_solver(X, r, variant, init, rec, "memory", max_iter=max_iter, callback=watch)
            iteration_peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        if res is None:
            continue
        del res
        gc.collect()
        blocks = held.get("blocks", [])
        dense = sum(b["count"] for b in blocks if b["dense"])
        other = sum(b["bytes"] for b in blocks if not b["dense"]) / mn_bytes
        target = ARRAY_TARGETS.get(variant.spec.key)
        uncopied = 0 if nmdcore.copies_input(X, X.dtype) else 1  # the models count a copy of X
        peak = max(iteration_peak, held.get("setup_peak", 0))
        rec.update(status="ok" if blocks else "error: no iteration completed", peak_bytes=peak,
                   peak_mb=round(peak / 2**20, 1), peak_arrays=round(peak / mn_bytes, 2),
                   setup_peak_arrays=round(held.get("setup_peak", 0) / mn_bytes, 2),
                   iteration_peak_arrays=round(iteration_peak / mn_bytes, 2), held_dense=dense,
                   held_other_arrays=round(other, 2), held_blocks=blocks,
                   model_held=variant.spec.memory.held - uncopied, target_dense=target,
                   model_peak_arrays=round(variant.spec.memory.peak_arrays(*X.shape) - uncopied, 2),
                   transient_arrays=round(iteration_peak / mn_bytes - dense - other, 2),
                   meets_target=None if target is None else bool(dense <= target))
        log(f"memory {rec['data']} {rec['dtype']} r={r} {variant.label}: peak {rec['setup_peak_arrays']} m×n arrays "
            f"in the setup, {rec['iteration_peak_arrays']} in the iterations; {dense} held + "
            f"{rec['held_other_arrays']} in other blocks")
    return records
