"""nmdcore.estimate_memory and the refusal of decompose before it allocates."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import nmdcore
from nmdcore import _memory


def test_estimate_follows_the_solvers_model_dtype_and_rank():
    m, n, r = 20000, 784, 16
    for key, spec in nmdcore.SOLVERS.items():
        double = nmdcore.estimate_memory((m, n), r, key)
        single = nmdcore.estimate_memory((m, n), r, key, dtype=np.float32)
        arrays = spec.memory.peak_arrays(m, n)
        factors = _memory.FACTOR_COPIES * (m + n) * r
        assert double == int(8 * (arrays * m * n + factors) + _memory.SCRATCH_BYTES), key
        assert single == int(4 * (arrays * m * n + factors) + _memory.SCRATCH_BYTES), key
        assert nmdcore.estimate_memory((m, n), 2 * r, key) > double
    # more arrays held, more memory: a_nmd keeps five m×n arrays, bcd two
    assert nmdcore.estimate_memory((m, n), r, "a_nmd") > nmdcore.estimate_memory((m, n), r, "bcd")
    # a square matrix pays for the TSVD start's p×p Gram matrix and eigensolver
    assert nmdcore.SOLVERS["ebcd"].memory.peak_arrays(5000, 5000) > nmdcore.SOLVERS["ebcd"].memory.peak_arrays(50000, 500)


@pytest.mark.parametrize("shape, rank, solver, dtype, error", [
    ((100,), 3, "ebcd", None, nmdcore.ShapeError),
    ((100, 0), 3, "ebcd", None, nmdcore.ShapeError),
    ((100, 2.5), 3, "ebcd", None, nmdcore.ShapeError),
    ("ab", 3, "ebcd", None, nmdcore.ShapeError),
    ((100, 50), 0, "ebcd", None, nmdcore.RankError),
    ((100, 50), 2.0, "ebcd", None, nmdcore.RankError),
    ((100, 50), 3, "nope", None, nmdcore.UnknownSolverError),
    ((100, 50), 3, "ebcd", np.int32, nmdcore.ShapeError),
])
def test_estimate_refuses_bad_arguments(shape, rank, solver, dtype, error):
    with pytest.raises(error):
        nmdcore.estimate_memory(shape, rank, solver, **({} if dtype is None else {"dtype": dtype}))


def test_decompose_refuses_before_allocating_and_names_both_figures(monkeypatch):
    """A 200000×20000 float64 matrix (29.8 GiB by itself) is refused from its shape alone: the input
    here is a read-only broadcast of one number, so any copy would fail with NumPy's MemoryError."""
    monkeypatch.setattr(_memory, "available_memory", lambda: 16 * 2**30)
    huge = np.broadcast_to(np.float64(1.0), (200_000, 20_000))
    with pytest.raises(nmdcore.MemoryLimitError) as info:
        nmdcore.decompose(huge, 10, "ebcd")
    need = nmdcore.estimate_memory(huge.shape, 10, "ebcd")
    message = str(info.value)
    assert f"{need / 2**30:.1f} GiB" in message and "16.0 GiB" in message and "\n" not in message
    assert isinstance(info.value, nmdcore.NMDError)
    # float32 halves the estimate, and the message says which precision it counted
    with pytest.raises(nmdcore.MemoryLimitError, match="float32"):
        nmdcore.decompose(np.broadcast_to(np.float32(1.0), huge.shape), 10, "ebcd")


def test_sparse_input_counts_as_dense(monkeypatch):
    X = sp.random(1500, 1000, density=1e-3, format="csr", random_state=0)
    need = nmdcore.estimate_memory(X.shape, 5, "bcd")
    monkeypatch.setattr(_memory, "available_memory", lambda: need - 1)
    with pytest.raises(nmdcore.MemoryLimitError, match="1500x1000"):
        nmdcore.decompose(X, 5, "bcd")
    monkeypatch.setattr(_memory, "available_memory", lambda: need)
    assert nmdcore.decompose(X, 5, "bcd", max_iter=1).theta.shape == (1500, 1000)


def test_unknown_available_memory_refuses_nothing(monkeypatch):
    monkeypatch.setattr(_memory, "available_memory", lambda: None)
    X = np.abs(np.random.default_rng(0).standard_normal((20, 10)))
    assert nmdcore.decompose(X, 2, "bcd", max_iter=1).n_iter == 1


def test_available_memory_is_a_positive_count_here():
    have = nmdcore.available_memory()
    assert have is None or (isinstance(have, int) and have > 0)


def test_a_table_without_a_dtype_is_sized_as_float64(monkeypatch):
    pd = pytest.importorskip("pandas")
    table = pd.DataFrame(np.abs(np.random.default_rng(0).standard_normal((300, 200))))
    monkeypatch.setattr(_memory, "available_memory", lambda: nmdcore.estimate_memory((300, 200), 3, "bcd") - 1)
    with pytest.raises(nmdcore.MemoryLimitError, match="300x200 float64"):
        nmdcore.decompose(table, 3, "bcd")


@pytest.mark.parametrize("version", ["v2", "v1"])
def test_the_cgroup_limit_counts_its_working_set_not_its_page_cache(tmp_path, monkeypatch, version):
    names = {"v2": ("memory.max", "memory.current", "inactive_file"),
             "v1": ("memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file")}[version]
    (tmp_path / names[0]).write_text(f"{8 * 2**30}\n")
    (tmp_path / names[1]).write_text(f"{7 * 2**30}\n")
    (tmp_path / "memory.stat").write_text(f"anon 123\n{names[2]} {5 * 2**30}\n")
    (tmp_path / "meminfo").write_text(f"MemTotal: 1 kB\nMemAvailable: {64 * 2**20} kB\n")
    monkeypatch.setattr(_memory, "MEMINFO", str(tmp_path / "meminfo"))
    monkeypatch.setattr(_memory, "CGROUP_V2", str(tmp_path if version == "v2" else tmp_path / "absent"))
    monkeypatch.setattr(_memory, "CGROUP_V1", str(tmp_path if version == "v1" else tmp_path / "absent"))
    assert nmdcore.available_memory() == 6 * 2**30  # 8 GiB limit − (7 − 5 GiB dropable cache)
    (tmp_path / names[0]).write_text("max\n" if version == "v2" else f"{2**63 - 4096}\n")
    assert nmdcore.available_memory() == 64 * 2**30  # no limit: the system's MemAvailable
