"""Fixtures for the tests: the reference traces and the optional data folder beside the checkout.

The paths and helpers behind them live in :mod:`tests.helpers`.
"""
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
