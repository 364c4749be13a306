"""nmdcore's parallel runtime: a small row pool of threads with BLAS kept single-threaded.

Every large product and elementwise pass of an iteration runs over fixed row chunks (or
cache-sized row blocks) shared among a few threads, each calling single-threaded BLAS.
The chunks do not depend on the number of threads and results are combined in chunk
order, so sums round the same way on any machine.

Callers that manage their own threads (several solvers at once, a process pool) can opt
out with :func:`set_num_threads` (``set_num_threads(1)``: everything on the calling thread)
or the environment variable ``NMD_NUM_THREADS``. BLAS is still kept single-threaded during
nmdcore's products, since a threaded BLAS call beside the row work slows both.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import threading

import numpy as np

#: Most threads the row pool ever uses.
MAX_THREADS = 8
_THREADS = None  # set by set_num_threads(); None: NMD_NUM_THREADS, else available_cpus()


def set_num_threads(count: int | None) -> None:
    """Set how many threads nmdcore's row work may use (process-wide).

    Parameters
    ----------
    count : int or None
        ``1`` runs everything on the calling thread (for callers that run several
        solvers in their own threads or processes); ``None`` restores the default:
        ``NMD_NUM_THREADS`` when set, else the CPUs this process may use, at most
        :data:`MAX_THREADS`.

    Raises
    ------
    ValueError
        When ``count`` is not a positive integer or None.
    """
    global _THREADS
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise ValueError(f"set_num_threads needs a positive integer or None, got {count!r}")
    _THREADS = count


_SERIAL_LOCK = threading.Lock()
_SERIAL_DEPTH = 0       # threads (and nested calls) currently inside serial_blas()
_SERIAL_RESTORE = None  # undoes the outermost call's limit; called by the last exit
_BLAS_LIMITER = None    # cached by _blas_limiter(); False: no way to limit BLAS here


def _openblas_local_setters(controller) -> list:
    """``openblas_set_num_threads_local`` of every loaded BLAS library, or [] unless all have it.

    threadpoolctl sets OpenBLAS's thread count with ``openblas_set_num_threads``; with the
    OpenBLAS builds of NumPy and SciPy (0.3.30/0.3.31) that call is ignored when it comes
    from a thread other than the main one after a worker thread has run BLAS on one thread
    -- exactly the situation of the app, which runs solvers in its script threads and
    nmdcore's products on its row pool. The ``_local`` setter (OpenBLAS >= 0.3.27; it
    returns the previous count) takes effect from any thread.
    """
    setters = []
    for lib in controller.lib_controllers:
        if lib.user_api != "blas":
            continue
        if lib.internal_api != "openblas":
            return []
        try:
            setter = ctypes.CDLL(lib.filepath).openblas_set_num_threads_local
        except (OSError, AttributeError):
            return []
        setter.argtypes, setter.restype = [ctypes.c_int], ctypes.c_int
        setters.append(setter)
    return setters


def _make_blas_limiter():
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        return False
    controller = ThreadpoolController()
    setters = _openblas_local_setters(controller)
    if not setters:
        return lambda: controller.limit(limits=1, user_api="blas").restore_original_limits

    def limit():
        previous = [set_threads(1) for set_threads in setters]

        def restore():
            for set_threads, count in zip(setters, previous):
                set_threads(count)
        return restore
    return limit


def _blas_limiter():
    """``limit() -> restore``: set every loaded BLAS library to one thread; None if impossible."""
    global _BLAS_LIMITER
    if _BLAS_LIMITER is None:
        _BLAS_LIMITER = _make_blas_limiter()
    return _BLAS_LIMITER or None


@contextlib.contextmanager
def serial_blas():
    """Context manager that runs BLAS single-threaded (a no-op without threadpoolctl).

    For the many small products of an iteration (m×r×r, r×r×n, Gram matrices), and
    for every product on nmdcore's row pool (:func:`run_indexed`). BLAS's thread
    count is global to the process, so the calls are counted: the first entry (from
    any thread) sets it to 1 and the last exit restores what it was. Two solver runs
    in parallel threads (two sessions of the app) therefore neither restore it under
    each other's feet nor leave it at 1. OpenBLAS is set through
    ``openblas_set_num_threads_local`` where it has it (see :func:`_openblas_local_setters`),
    other libraries through threadpoolctl.
    """
    global _SERIAL_DEPTH, _SERIAL_RESTORE
    limit = _blas_limiter()
    if limit is None:
        yield
        return
    with _SERIAL_LOCK:
        if _SERIAL_DEPTH == 0:
            _SERIAL_RESTORE = limit()
        _SERIAL_DEPTH += 1
    try:
        yield
    finally:
        with _SERIAL_LOCK:
            _SERIAL_DEPTH -= 1
            if _SERIAL_DEPTH == 0:
                _SERIAL_RESTORE()
                _SERIAL_RESTORE = None


def available_cpus() -> int:
    """Number of CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


_ROW_POOL = None


class RowBlockRunner:
    """Apply a function to consecutive row blocks of m×n arrays on a few threads.

    The blocks are small enough to stay in cache (about ``block_bytes`` per m×n
    array), so a chain of NumPy operations on one block -- a small product, a
    projection, an extrapolation, a norm -- touches main memory once instead of once
    per operation. Workers take the next block as they become free (see
    :func:`run_indexed`) and each reuses its own scratch arrays; NumPy and BLAS
    release the GIL, and BLAS is kept single-threaded meanwhile. Results are combined
    in block order, so sums over them do not depend on the number of threads.

    Parameters
    ----------
    shape : (m, n)
    dtype : float32 or float64
    n_scratch : int
        Scratch blocks per worker (``rows × n`` of ``dtype``); a float64 one is added
        for exact float64 norms of float32 blocks (see :meth:`sq`).
    block_bytes : int
        Target size of one block of one m×n array.
    workers : int or None
        Threads to use (default: see :func:`set_num_threads`).
    """

    def __init__(self, shape, dtype, *, n_scratch: int = 2, block_bytes: int = 1 << 18,
                 workers: int | None = None):
        m, n = shape
        dtype = np.dtype(dtype)
        rows = int(max(1, min(m, block_bytes // (n * dtype.itemsize))))
        self.blocks = [slice(i, min(i + rows, m)) for i in range(0, m, rows)]
        self._workers = min(workers or thread_count(), len(self.blocks))
        self._scratch = [[np.empty((rows, n), dtype) for _ in range(n_scratch)]
                         + [np.empty((rows, n), np.float64)] for _ in range(self._workers)]

    @staticmethod
    def sq(block: np.ndarray, scratch: list) -> float:
        """``‖block‖_F²`` in float64 (a float32 block is widened in the float64 scratch)."""
        if block.dtype != np.float64:
            wide = scratch[-1][:block.shape[0]]
            np.copyto(wide, block)
            block = wide
        a = block.reshape(-1)
        return float(np.dot(a, a))

    def map(self, fn) -> np.ndarray:
        """Sum over blocks of ``fn(rows, scratch)``, a tuple of floats, as a float64 array.

        ``rows`` is the block's slice of rows; ``scratch`` the worker's list of scratch
        arrays (slice them to ``[:rows.stop - rows.start]``).
        """
        blocks, scratch = self.blocks, self._scratch
        parts = run_indexed(lambda i, worker: fn(blocks[i], scratch[worker]), len(blocks), self._workers)
        return np.sum(np.asarray(parts, dtype=np.float64).reshape(len(parts), -1), axis=0)


def thread_count() -> int:
    """Threads of the row work: :func:`set_num_threads`, else NMD_NUM_THREADS, else the CPUs (≤ 8)."""
    if _THREADS is not None:
        return min(_THREADS, MAX_THREADS)
    env = os.environ.get("NMD_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) >= 1:
        return min(int(env), MAX_THREADS)
    return min(available_cpus(), MAX_THREADS)


def _row_pool():
    global _ROW_POOL
    if _ROW_POOL is None:
        from concurrent.futures import ThreadPoolExecutor
        _ROW_POOL = ThreadPoolExecutor(max_workers=MAX_THREADS, thread_name_prefix="nmdcore-rows")
    return _ROW_POOL


def run_indexed(fn, count: int, workers: int | None = None) -> list:
    """``[fn(i, worker) for i in range(count)]`` on up to ``workers`` threads, BLAS single-threaded.

    The calling thread is worker 0; each worker takes the next index as it becomes
    free, so an uneven split or a busy core does not leave one thread idle while
    another works. ``worker`` (``0 <= worker < workers``) identifies the thread, for
    per-thread scratch space. Results come back in index order.

    Why not multithreaded BLAS: OpenBLAS's worker threads keep spinning for a while
    (around 0.1 s) after each threaded call; on a machine with few cores they then
    compete with the threads of the next fused pass and slow it down by up to 1.7×.
    Running every large product of an iteration through this pool, with BLAS
    single-threaded, keeps exactly one busy thread per core.

    NumPy's floating-point error handling (``np.errstate``) is per thread: the other
    workers run ``fn`` under the caller's settings.
    """
    k = min(workers or thread_count(), count)
    results = [None] * count
    if k <= 1:
        with serial_blas():
            for i in range(count):
                results[i] = fn(i, 0)
        return results
    lock = threading.Lock()
    next_index = iter(range(count))
    caller_errstate = np.geterr()

    def work(worker):
        while True:
            with lock:
                i = next(next_index, None)
            if i is None:
                return
            results[i] = fn(i, worker)

    def pool_work(worker):
        with np.errstate(**caller_errstate):
            work(worker)

    with serial_blas():
        futures = [_row_pool().submit(pool_work, w) for w in range(1, k)]
        try:
            work(0)
        finally:
            for future in futures:
                exc = future.exception()  # waits; the first error is raised below
                if exc is not None:
                    raise exc
    return results


#: Row chunks of the tall products below: about this many chunks per matrix (enough for an even
#: share on every core), each between these bounds of rows; the chunks depend only on m. Chunks of
#: fewer than ~500 rows make each single-threaded product too small to run at BLAS speed: at
#: 10000×784, 16 chunks of 625 rows instead of 32 of 313 made every iteration of the latent and
#: three-block solvers 5–12 % faster (float32, r = 32 and 64), and 50000×784 did not change.
_CHUNKS_PER_MATRIX = 16
_CHUNK_ROWS_MIN = 512
_CHUNK_ROWS_MAX = 4096


def row_chunks(m: int) -> list:
    """The fixed row chunks of ``range(m)`` used by :func:`map_row_chunks` (they depend only on m)."""
    rows = int(min(_CHUNK_ROWS_MAX, max(_CHUNK_ROWS_MIN, -(-m // _CHUNKS_PER_MATRIX))))
    return [slice(i, min(i + rows, m)) for i in range(0, m, rows)] or [slice(0, 0)]


def map_row_chunks(fn, m: int) -> list:
    """``[fn(rows) for rows in row_chunks(m)]`` on a few threads (:func:`run_indexed`).

    For products with tall matrices (r ≪ m): single-threaded BLAS on each chunk,
    the chunks shared among up to :func:`available_cpus` threads. The chunks do not
    depend on the number of threads and results come back in chunk order, so a
    reduction over them rounds the same way on any machine.

    Parameters
    ----------
    fn : callable
        ``fn(rows)`` with ``rows`` a slice of row indices.
    m : int
        Number of rows.

    Returns
    -------
    list
        The results of ``fn``, in chunk order.
    """
    chunks = row_chunks(m)
    return run_indexed(lambda i, worker: fn(chunks[i]), len(chunks))


def sum_in_order(parts: list, out: np.ndarray | None = None) -> np.ndarray:
    """``parts[0] + parts[1] + …`` in list order, into ``out`` when given (else a new array)."""
    if out is None:
        out = parts[0].copy()
    else:
        np.copyto(out, parts[0])
    for p in parts[1:]:
        out += p
    return out
