"""Fixtures and paths for the tests: the reference traces and the optional data folder.

The reference traces (GNU Octave runs of the authors' published MATLAB codes, see
``tests/data/README.md``) come in two sizes: a compact subset shipped in ``tests/data/reference_traces``,
and the full set in ``reference/traces`` of the data folder beside the checkout (``../shared`` or
``$NMD_SHARED``). Fidelity tests run on the full set when it is there and on the subset otherwise.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NMD_SHARED", REPO.parent / "shared"))
SHARED_DATASETS = SHARED / "datasets"
FULL_TRACES = SHARED / "reference" / "traces"
BUNDLED_TRACES = REPO / "tests" / "data" / "reference_traces"
REFERENCE_TRACES = FULL_TRACES if FULL_TRACES.is_dir() else BUNDLED_TRACES
FULL_OFFSET_TRACES = SHARED / "reference" / "traces_offset"
BUNDLED_OFFSET_TRACES = REPO / "tests" / "data" / "reference_traces_offset"
OFFSET_TRACES = FULL_OFFSET_TRACES if FULL_OFFSET_TRACES.is_dir() else BUNDLED_OFFSET_TRACES


def reference_traces_among(names) -> list[str]:
    """The names (file stems) among ``names`` whose reference trace is present, in their order."""
    return [name for name in names if (REFERENCE_TRACES / f"{name}.npz").exists()]


def reference_trace(name: str) -> Path:
    """Path of the reference trace ``name`` (file stem); skip the calling test when it is absent."""
    return require_shared(REFERENCE_TRACES / f"{name}.npz")


def require_shared(path: Path) -> Path:
    """Return ``path`` or skip the calling test with a clear reason when it is absent."""
    if not path.exists():
        pytest.skip(f"{path} is absent (the external data folder is not beside this checkout)")
    return path


@pytest.fixture
def shared_datasets() -> Path:
    return require_shared(SHARED_DATASETS)
