"""What the engine says to people: solver summaries and citations, stop reasons as sentences."""
import re

import numpy as np
import pytest

import nmdcore
from nmdcore._monitor import STOP_REASONS


@pytest.mark.parametrize("key", list(nmdcore.SOLVERS))
def test_every_solver_has_a_two_sentence_summary_and_a_citation(key):
    spec = nmdcore.SOLVERS[key]
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", spec.summary.strip()) if s]
    assert len(sentences) == 2, spec.summary
    assert all(s[0].isupper() for s in sentences), spec.summary
    # a citation names the year in parentheses and the title in quotes
    assert re.search(r"\((19|20)\d\d\)", spec.paper) and spec.paper.count('"') == 2, spec.paper


@pytest.mark.parametrize("reason", [*STOP_REASONS, "exact"])
def test_every_stop_reason_is_a_sentence(reason):
    sentence = nmdcore.describe_stop(reason)
    assert sentence[0].isupper() and sentence.endswith(".") and len(sentence.split()) >= 4
    assert reason not in ("tol", "stall") or sentence.startswith("Converged")


def test_an_unknown_stop_reason_is_a_clear_error():
    with pytest.raises(nmdcore.NMDError, match="unknown stop reason 'nope'"):
        nmdcore.describe_stop("nope")


def test_the_reasons_runs_end_with_are_described():
    """Runs that stop by tolerance, by budget and at once all get a sentence."""
    rng = np.random.default_rng(0)
    X = np.maximum(0, rng.standard_normal((30, 3)) @ rng.standard_normal((3, 20)))
    seen = {nmdcore.decompose(X, 3, solver="ebcd", max_iter=2).stop_reason,
            nmdcore.decompose(X, 3, solver="tsvd").stop_reason,
            nmdcore.decompose(X, 3, solver="ebcd", max_iter=5000).stop_reason}
    assert {"max_iter", "exact"} <= seen and len(seen) == 3
    for reason in seen:
        assert nmdcore.describe_stop(reason)


def test_the_solver_docs_match_the_registry():
    """docs/solver_notes.md is generated from the registry; a changed SolverSpec must regenerate it."""
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("build_solver_docs", root / "scripts" / "build_solver_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (root / "docs" / "solver_notes.md").read_text() == module.solver_docs(), \
        "docs/solver_notes.md is out of date: run python scripts/build_solver_docs.py"


def test_every_citation_is_in_the_bibliography():
    from pathlib import Path

    references = (Path(__file__).resolve().parents[1] / "docs" / "references.md").read_text()
    for spec in nmdcore.SOLVERS.values():
        authors, title = spec.paper.split(" (")[0], spec.paper.split('"')[1]
        assert authors in references and title in " ".join(references.split()), spec.key
