"""The reference traces shipped in tests/data: within their size budget, loadable, copies of the full set."""
import json

import numpy as np

from tests.helpers import BUNDLED_OFFSET_TRACES, BUNDLED_TRACES, FULL_OFFSET_TRACES, FULL_TRACES

#: Most bytes the shipped subset may take (it travels with every clone).
BUDGET_BYTES = 1_500_000


def test_shipped_traces():
    files = sorted(BUNDLED_TRACES.glob("*.npz")) + sorted(BUNDLED_OFFSET_TRACES.glob("*.npz"))
    assert len(files) == 34
    shipped = list(BUNDLED_TRACES.iterdir()) + list(BUNDLED_OFFSET_TRACES.iterdir())
    assert sum(f.stat().st_size for f in shipped) <= BUDGET_BYTES
    for f in files:
        with np.load(f, allow_pickle=False) as d:
            assert {"X", "r", "relu_err" if f.stem.endswith("_tsvd") else "err"} <= set(d.files), f.name
    cases = json.loads((BUNDLED_TRACES / "cases.json").read_text())
    assert {c["name"] for c in cases} == {"lr60x40", "sp50x70", "sym40"}
    for bundled, full in ((BUNDLED_TRACES, FULL_TRACES), (BUNDLED_OFFSET_TRACES, FULL_OFFSET_TRACES)):
        if full.is_dir():  # where the full set is present, the subset must be byte copies of it
            for f in bundled.iterdir():
                assert f.read_bytes() == (full / f.name).read_bytes(), f.name
