"""Write docs/solver_notes.md from the solver registry: summary, citation and technical notes of each solver.

Run ``python scripts/build_solver_docs.py`` after changing a SolverSpec; the tests check that
the file matches the registry.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "solver_notes.md"


def _bound(h) -> str:
    low = "" if h.low is None else f"{h.low:g} {'<' if h.low_open else '≤'} "
    high = "" if h.high is None else f" {'<' if h.high_open else '≤'} {h.high:g}"
    return f"{low}{h.name}{high}" if (low or high) else ""


def solver_docs() -> str:
    """The text of docs/solver_notes.md for the solvers registered in :data:`nmdcore.SOLVERS`."""
    import nmdcore

    out = ["# Solver notes", "",
           "Generated from `nmdcore.SOLVERS` by `scripts/build_solver_docs.py`; the app shows each solver's",
           "summary and citation, and this page keeps the technical notes. Notation: X ≈ max(0, Θ), Θ of rank r,",
           "Θ = W H (W m×r, H r×n), Z the latent matrix (X where X > 0, ≤ 0 elsewhere). The full references are",
           "in [references.md](references.md).", ""]
    for key, spec in nmdcore.SOLVERS.items():
        out += [f"## {spec.label} (`{key}`)", "", spec.summary, "", f"*{spec.paper}.*", "",
                f"- **Model:** {spec.model}; family `{spec.family}`; input: {spec.input_kind}.",
                f"- **Recorded objective:** {spec.objective}.",
                f"- **Stopping:** tol = {spec.tol:g}, stall tol = {spec.tol_stall:g}." if spec.iterative
                else "- **One shot:** no iterations.",
                f"- **Technical notes:** {spec.description}" if spec.description else "- **Technical notes:** none."]
        if spec.hyperparameters:
            out += ["", "| hyperparameter | symbol | default | range | meaning |", "|---|---|---|---|---|"]
            for h in spec.hyperparameters:
                values = ", ".join(map(str, h.choices)) if h.kind == "choice" else _bound(h)
                out.append(f"| `{h.name}` | {h.symbol} | {h.default!r} | {values} | {h.help} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    DOC.write_text(solver_docs())
    print(f"wrote {DOC}")
