"""Helpers shared by the test modules: where the shared folder is, reference traces, app sessions.

Test modules import them as ``from tests.helpers import ...`` (pytest.ini puts the repository
on the path); the fixtures themselves stay in ``conftest.py``.
"""
from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

import nmdcore

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NMD_SHARED", REPO.parent / "shared"))
SHARED_DATASETS = SHARED / "datasets"
# The reference traces (GNU Octave runs of the authors' published MATLAB codes, see
# tests/data/README.md) come in two sizes: a compact subset shipped in tests/data, and the full
# set in the optional data folder beside the checkout (../shared or $NMD_SHARED). Fidelity tests
# run on the full set when it is there and on the subset otherwise.
FULL_TRACES = SHARED / "reference" / "traces"
BUNDLED_TRACES = REPO / "tests" / "data" / "reference_traces"
REFERENCE_TRACES = FULL_TRACES if FULL_TRACES.is_dir() else BUNDLED_TRACES
FULL_OFFSET_TRACES = SHARED / "reference" / "traces_offset"
BUNDLED_OFFSET_TRACES = REPO / "tests" / "data" / "reference_traces_offset"
OFFSET_TRACES = FULL_OFFSET_TRACES if FULL_OFFSET_TRACES.is_dir() else BUNDLED_OFFSET_TRACES

#: Solver names of the three-block reference traces, under nmdcore's keys.
THREE_BLOCK_REFERENCE_NAME = {"BCD_NMD": "bcd", "eBCD_NMD": "ebcd", "NMD_3B": "nmd_3b", "NMD_TM": "nmd_tm"}


def zip_bytes(members: dict, method=zipfile.ZIP_DEFLATED) -> bytes:
    """A zip archive of ``{name: bytes}`` members, as an upload would bring it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def npy_bytes(array) -> bytes:
    """``array`` in NumPy's .npy format (object arrays pickled, for the refusal tests)."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def require_shared(path: Path) -> Path:
    """Return ``path`` or skip the calling test with a clear reason when it is absent."""
    if not path.exists():
        pytest.skip(f"{path} is absent (the optional data folder is not beside this checkout)")
    return path


def reference_traces_among(names) -> list[str]:
    """The names (file stems) among ``names`` whose reference trace is present, in their order."""
    return [name for name in names if (REFERENCE_TRACES / f"{name}.npz").exists()]


def reference_trace(name: str) -> Path:
    """Path of the reference trace ``name`` (file stem); skip the calling test when it is absent."""
    return require_shared(REFERENCE_TRACES / f"{name}.npz")


def open_page(path: str, timeout: float = 90):
    """A fresh session on ``path``, reached from the entry point as a user would."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=timeout).run()
    assert not at.exception, at.exception
    if path != "app.py":
        at.switch_page(path).run()
    return at


def reference_params(solver: str, params: dict) -> dict:
    """The trace's parameters under nmdcore's names."""
    if solver == "eBCD_NMD":
        return {k: params[k] for k in ("alpha", "mu", "alpha_max", "delta_bar")}
    if solver == "NMD_3B":
        return {"beta": params["beta1"]}
    if solver == "NMD_TM":
        return {"lam": params["lambda"], "alpha": params["beta1"], "beta": 1.0 + params["beta2"]}
    return {}


def run_trace(d, **overrides):
    solver = str(d["solver"])
    kwargs = dict(init={"W": d["W0"], "H": d["H0"], "Z": d["Z0"]}, max_iter=int(d["maxit"]),
                  tol=0, tol_stall=0, **reference_params(solver, json.loads(str(d["params_json"]))))
    kwargs.update(overrides)
    return nmdcore.decompose(d["X"], int(d["r"]), THREE_BLOCK_REFERENCE_NAME[solver], **kwargs)


# ------------------------------------------------------------------ runs of the app (ui.runs)


def page_run(at, slot: str):
    """The run in ``slot`` of the AppTest session (None when it has none)."""
    from ui import runs

    token = at.session_state[runs.TOKEN_KEY] if runs.TOKEN_KEY in at.session_state else None
    return None if token is None else runs.find(token, slot)


def finish_runs(at, timeout: float = 120) :
    """Wait for the session's runs to end, then rerun the page as the live view's last refresh does."""
    from ui import runs

    assert runs.join_all(at.session_state[runs.TOKEN_KEY], timeout), f"runs still going after {timeout} s"
    return at.run()


def stop_mid_run(at, slot: str, stop_key: str, min_iterations: int = 3, timeout: float = 60) :
    """Wait until the running run of ``slot`` has done ``min_iterations``, then press its Stop button."""
    import time

    run = page_run(at, slot)
    assert run is not None and run.running, "no run is going"
    deadline = time.monotonic() + timeout
    while sum(len(h["objective"]) - 1 for _, h in run.histories()) < min_iterations:
        assert run.running and time.monotonic() < deadline, "the run ended before it could be stopped"
        time.sleep(0.05)
    at.button(key=stop_key).click().run()
    return finish_runs(at)
