"""Shared fixtures: where the optional shared/ folder beside the checkout is, and skips when it is absent."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NMD_SHARED", REPO.parent / "shared"))
REFERENCE_TRACES = SHARED / "reference" / "traces"
SHARED_DATASETS = SHARED / "datasets"


def require_shared(path: Path) -> Path:
    """Return ``path`` or skip the calling test with a clear reason when it is absent."""
    if not path.exists():
        pytest.skip(f"{path} is absent (the optional shared/ folder is not beside this checkout)")
    return path


@pytest.fixture
def reference_traces() -> Path:
    return require_shared(REFERENCE_TRACES)


@pytest.fixture
def shared_datasets() -> Path:
    return require_shared(SHARED_DATASETS)
