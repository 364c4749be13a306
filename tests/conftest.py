"""Shared fixtures: the reference traces and datasets of the optional shared/ folder beside the checkout, skipped when absent."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import REFERENCE_TRACES, SHARED_DATASETS, require_shared


@pytest.fixture
def reference_traces() -> Path:
    return require_shared(REFERENCE_TRACES)


@pytest.fixture
def shared_datasets() -> Path:
    return require_shared(SHARED_DATASETS)
