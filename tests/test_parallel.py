"""nmdcore._parallel: the row pool, its fixed chunks, BLAS kept single-threaded, the thread opt-out."""
import threading
import warnings

import numpy as np
import pytest

import nmdcore
from nmdcore import _parallel
from nmdcore._parallel import RowBlockRunner, map_row_chunks, run_indexed, serial_blas


def test_map_row_chunks_returns_results_in_row_order():
    m = 3 * _parallel._CHUNK_ROWS_MAX + 1
    starts = map_row_chunks(lambda rows: (rows.start, rows.stop), m)
    assert starts[0][0] == 0 and starts[-1][1] == m
    assert all(a[1] == b[0] for a, b in zip(starts, starts[1:]))


def test_run_indexed_order_workers_and_errors():
    seen = run_indexed(lambda i, worker: (i, worker), 50, workers=3)
    assert [i for i, _ in seen] == list(range(50))
    assert {w for _, w in seen} <= {0, 1, 2}

    def fail(i, worker):
        if i == 17:
            raise KeyError("chunk 17")
        return i

    with pytest.raises(KeyError, match="chunk 17"):
        run_indexed(fail, 40, workers=2)
    assert run_indexed(lambda i, w: i, 0) == []


def test_serial_blas_from_several_threads_limits_once_and_restores_after_the_last(monkeypatch):
    """BLAS's thread count is process-wide: the first entry (any thread) limits it, nested and
    concurrent entries only count, and the last exit restores it."""

    events = []

    def limit():
        events.append("limit")
        return lambda: events.append("restore")

    monkeypatch.setattr(_parallel, "_blas_limiter", lambda: limit)
    inside, release = threading.Barrier(3, timeout=30), threading.Event()

    def session():
        with serial_blas():
            inside.wait()
            release.wait(timeout=30)

    workers = [threading.Thread(target=session, daemon=True) for _ in range(2)]
    for w in workers:
        w.start()
    try:
        inside.wait()
        with serial_blas():  # a nested entry and exit while two threads are inside
            pass
        during = list(events)
    finally:
        release.set()
        for w in workers:
            w.join(timeout=30)
    assert during == ["limit"]
    assert events == ["limit", "restore"]
    with serial_blas():
        pass
    assert events[2:] == ["limit", "restore"]


def test_serial_blas_takes_effect_in_a_new_thread_after_the_row_pool_ran():
    """The app runs solvers in its script threads: serial_blas must limit BLAS from there too."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from nmdcore._linalg import crossprod

    A = np.ones((3000, 8))
    crossprod(A, A)  # the row pool has run BLAS on one thread
    before = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    seen = []

    def session():
        with serial_blas():
            seen.append([i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"])

    thread = threading.Thread(target=session, daemon=True)
    thread.start()
    thread.join(timeout=60)
    assert seen and all(n == 1 for n in seen[0])
    assert [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"] == before


def test_run_indexed_workers_follow_the_callers_errstate():
    def overflow(i, worker):
        return np.float64(1e300) * np.float64(1e300)

    with np.errstate(over="raise"):
        with pytest.raises(FloatingPointError):
            run_indexed(overflow, 8, workers=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="ignore"):
            assert all(np.isinf(v) for v in run_indexed(overflow, 8, workers=2))


def test_row_block_runner_sums_in_a_fixed_order():
    A = np.random.default_rng(5).standard_normal((101, 13)).astype(np.float32)
    sums = [RowBlockRunner(A.shape, A.dtype, block_bytes=3 * 13 * 4, workers=w).map(
        lambda rows, s: (RowBlockRunner.sq(A[rows], s), rows.stop - rows.start)) for w in (1, 2, 3)]
    assert sums[0][1] == 101 and sums[0][0] == pytest.approx(np.sum(A.astype(np.float64) ** 2), rel=1e-14)
    assert np.array_equal(sums[0], sums[1]) and np.array_equal(sums[0], sums[2])


def test_set_num_threads_runs_everything_on_the_calling_thread(monkeypatch):
    """The opt-out for callers that manage their own threads: one thread, same results."""
    A = np.random.default_rng(0).standard_normal((3 * _parallel._CHUNK_ROWS_MAX, 6))
    threads = set()

    def where(i, worker):
        threads.add(threading.get_ident())
        return i

    try:
        nmdcore.set_num_threads(1)
        assert _parallel.thread_count() == 1
        assert run_indexed(where, 40) == list(range(40)) and threads == {threading.get_ident()}
        one = nmdcore.decompose(np.abs(A), 3, "ebcd", max_iter=5, random_state=0)
        nmdcore.set_num_threads(None)
        monkeypatch.setenv("NMD_NUM_THREADS", "3")
        assert _parallel.thread_count() == 3
        monkeypatch.setenv("NMD_NUM_THREADS", "many")  # not a count: the default
        assert _parallel.thread_count() == min(_parallel.available_cpus(), _parallel.MAX_THREADS)
        several = nmdcore.decompose(np.abs(A), 3, "ebcd", max_iter=5, random_state=0)
    finally:
        nmdcore.set_num_threads(None)
    assert np.array_equal(one.theta, several.theta)
    for bad in (0, -2, 1.5, True, "2"):
        with pytest.raises(ValueError, match="positive integer"):
            nmdcore.set_num_threads(bad)
