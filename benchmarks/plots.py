"""Figures of the benchmark results (matplotlib, a benchmark-only dependency)."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

SPEED_PANEL = ("data", "m", "n", "dtype")
PROBLEM_PANEL = ("data", "m", "n", "rank", "dtype")


def _figure(records, panel_keys, draw_panel, path: Path, *, height=3.6, title=None) -> Path | None:
    """One panel per distinct value of ``panel_keys`` among the successful records; save to ``path``."""
    panels = defaultdict(list)
    for r in records:
        if r.get("status") == "ok":
            panels[tuple(r[k] for k in panel_keys)].append(r)
    if not panels:
        return None
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(2, len(panels))
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(6.5 * cols, height * rows), squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax, (key, recs) in zip(axes.flat, sorted(panels.items())):
        draw_panel(ax, dict(zip(panel_keys, key)), sorted(recs, key=lambda r: (r["variant"], r["rank"])))
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _speed_panel(ax, key, recs):
    variants = sorted({r["variant"] for r in recs})
    ranks = sorted({r["rank"] for r in recs})
    width = 0.8 / len(ranks)
    for j, rank in enumerate(ranks):
        by_variant = {r["variant"]: r for r in recs if r["rank"] == rank}
        xs = [i + (j - (len(ranks) - 1) / 2) * width for i, v in enumerate(variants) if v in by_variant]
        ax.bar(xs, [by_variant[v]["ratio"] for v in variants if v in by_variant], width=width, label=f"r = {rank}")
    for level, style in ((1.2, "--"), (1.5, ":")):
        ax.axhline(level, color="black", linestyle=style, linewidth=0.8)
    ax.axhline(1.0, color="grey", linewidth=0.6)
    if max(r["ratio"] for r in recs) > 10:
        ax.set_yscale("log")
    ax.set_xticks(range(len(variants)), variants, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("iteration time / bound")
    ax.set_title(f"{key['data']} {key['m']}×{key['n']}, {key['dtype']}", fontsize=10)
    ax.legend(fontsize=7, ncols=min(4, len(ranks)))


#: Line style per solver family in the convergence plot (colours alone repeat after ten solvers).
FAMILY_STYLE = {"three_block": "-", "latent": "--", "coordinate": "-.", "factorization": ":"}


def _convergence_panel(ax, key, recs):
    colours = ax.figure.colormaps["tab20"] if hasattr(ax.figure, "colormaps") else None
    starts, lows = [], []
    for i, rec in enumerate(recs):
        pts = [(t, e) for t, e in zip(rec["time_s"], rec["relu_error"]) if t is not None and e is not None]
        if not pts:
            continue
        starts.append(pts[0][1])
        lows.append(min(e for _, e in pts))
        ax.plot(*zip(*pts), label=rec["variant"], linewidth=1.2, linestyle=FAMILY_STYLE.get(rec.get("family"), "-"),
                color=None if colours is None else colours(i % 20))
    if recs[0].get("tsvd_relu_error") is not None:
        ax.axhline(recs[0]["tsvd_relu_error"], color="black", linestyle="--", linewidth=0.8, label="TSVD")
    ax.set_yscale("log")
    if starts:  # a diverging solver (NMD-TM from a random start) must not squash the others
        ax.set_ylim(0.9 * min(lows), 1.2 * max(starts))
    ax.set_xlabel("seconds")
    ax.set_ylabel("‖X − max(0, Θ)‖_F / ‖X‖_F")
    ax.set_title(f"{key['data']} {key['m']}×{key['n']}, r = {key['rank']}, {key['dtype']}, "
                 f"start: {recs[0]['start']}", fontsize=10)
    ax.grid(True, which="both", linewidth=0.3)
    ax.legend(fontsize=7)


def _memory_panel(ax, key, recs):
    xs = range(len(recs))
    ax.bar([x - 0.27 for x in xs], [r["setup_peak_arrays"] for r in recs], width=0.27, label="peak in the setup")
    ax.bar(list(xs), [r["iteration_peak_arrays"] for r in recs], width=0.27, label="peak in the iterations")
    ax.bar([x + 0.27 for x in xs], [r["held_dense"] + r["held_other_arrays"] for r in recs], width=0.27,
           label="held after iteration 1")
    model = [(x, r["model_peak_arrays"]) for x, r in zip(xs, recs) if r.get("model_peak_arrays")]
    if model:
        ax.scatter(*zip(*model), marker="_", s=300, color="black", label="the solver's memory model", zorder=3)
    ax.set_xticks(list(xs), [r["variant"] for r in recs], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(f"m×n {key['dtype']} arrays")
    ax.set_title(f"{key['data']} {key['m']}×{key['n']}, r = {key['rank']}, {key['dtype']}", fontsize=10)
    ax.legend(fontsize=7)


def plot_speed(records, path: Path) -> Path | None:
    """Bars of (iteration time)/(bound) per solver, one group per rank, a panel per dataset and dtype."""
    return _figure(records, SPEED_PANEL, _speed_panel, path,
                   title="Per-iteration time relative to the GEMM + one-pass bound (targets 1.2 and 1.5 dashed)")


def plot_convergence(records, path: Path) -> Path | None:
    """ReLU error against seconds, one line per solver, a panel per dataset, rank and dtype."""
    return _figure(records, PROBLEM_PANEL, _convergence_panel, path, height=4.2)


def plot_memory(records, path: Path) -> Path | None:
    """Peak and held m×n arrays per solver next to the peak of its memory model (``SolverSpec.memory``)."""
    return _figure(records, PROBLEM_PANEL, _memory_panel, path)
