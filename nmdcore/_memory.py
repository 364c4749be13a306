"""How much memory a run needs, how much the machine has, and the refusal before allocating."""
from __future__ import annotations

import numbers
import os

import numpy as np

from ._errors import MemoryLimitError, RankError, ShapeError
from ._validation import copies_input, resolve_dtype

#: Copies of the rank-r factors a run keeps (current, previous, extrapolated, products with them).
FACTOR_COPIES = 8
#: Fixed allowance for per-thread scratch blocks and small r×r/r×n work, whatever the size.
SCRATCH_BYTES = 32 * 2**20


def estimate_memory(shape, rank, solver, dtype=np.float64, *, copies_x=True) -> int:
    """Peak bytes one :func:`nmdcore.decompose` call needs, from the solver's :class:`MemoryModel`.

    Counts decompose's own dense copy of X (a sparse X is densified, so it counts as
    dense), the solver's m×n and p×p arrays at its peak (setup or iteration), the
    rank-r factors and a fixed scratch allowance; not the caller's X.

    Parameters
    ----------
    shape : (int, int)
        ``(m, n)`` of X.
    rank : int
    solver : str or SolverSpec
        A key of :data:`nmdcore.SOLVERS` or a spec.
    dtype : float32 or float64
        Working precision.
    copies_x : bool
        Whether decompose makes its own copy of X: it does unless X already is a writeable,
        C-contiguous ndarray of the working dtype (:func:`nmdcore.copies_input` tells). True,
        the default, is the safe side.

    Returns
    -------
    int
        Bytes.

    Raises
    ------
    NMDError
        When the shape, rank, solver or dtype is not usable.

    Examples
    --------
    >>> import nmdcore
    >>> round(nmdcore.estimate_memory((70000, 784), 20, "ebcd") / 2**20)
    1689
    """
    spec = _spec(solver)
    m, n = _shape(shape)
    if isinstance(rank, bool) or not isinstance(rank, numbers.Integral) or rank < 1:
        raise RankError(f"rank must be a positive integer, got {rank!r}")
    itemsize = resolve_dtype(np.empty(0), dtype).itemsize
    arrays = spec.memory.peak_arrays(m, n) - (0 if copies_x else 1)
    return int(itemsize * (arrays * m * n + FACTOR_COPIES * (m + n) * int(rank)) + SCRATCH_BYTES)


#: Where the memory figures are read (module constants, so tests can point them elsewhere).
MEMINFO = "/proc/meminfo"
CGROUP_V2 = "/sys/fs/cgroup"
CGROUP_V1 = "/sys/fs/cgroup/memory"


def available_memory() -> int | None:
    """Bytes this process can still allocate, or None where that is not known.

    The smaller of the system's ``MemAvailable`` and what the process's cgroup limit leaves
    (the limit less the cgroup's working set: its usage without the page cache the kernel
    can drop). Elsewhere the free physical pages.

    Returns
    -------
    int or None
        Bytes; :func:`nmdcore.decompose` refuses a run whose :func:`estimate_memory` exceeds
        them, and refuses nothing when this is None.
    """
    found = [v for v in (_meminfo_available(), _cgroup_available()) if v is not None]
    if not found:
        try:
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (AttributeError, ValueError, OSError):
            return None
    return min(found)


def _meminfo_available() -> int | None:
    try:
        with open(MEMINFO) as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_available() -> int | None:
    """``limit − (usage − inactive file cache)`` of cgroup v2, else v1; None without a limit."""
    for root, limit_name, usage_name, cache_name in (
            (CGROUP_V2, "memory.max", "memory.current", "inactive_file"),
            (CGROUP_V1, "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file")):
        try:
            with open(os.path.join(root, limit_name)) as fh:
                limit = fh.read().strip()
            if limit == "max" or int(limit) >= 2**60:  # no limit (v1 writes a huge number)
                return None
            with open(os.path.join(root, usage_name)) as fh:
                usage = int(fh.read().strip())
            cache = 0
            with open(os.path.join(root, "memory.stat")) as fh:
                for line in fh:
                    name, _, value = line.partition(" ")
                    if name == cache_name:
                        cache = int(value)
                        break
            return max(0, int(limit) - (usage - cache))
        except (OSError, ValueError):
            continue
    return None


def check_memory(X, rank, spec, dtype=None) -> None:
    """Raise :class:`MemoryLimitError` when ``decompose(X, rank, spec)`` would not fit in memory.

    Uses only X's shape and dtype, so it runs before any copy. Does nothing when X has
    no 2-D shape yet (a nested list: its own size already exceeds the array's) or the
    rank is not an integer (the rank check reports that), or the available memory is unknown.
    """
    shape = getattr(X, "shape", None)
    if shape is None or len(shape) != 2 or not all(isinstance(s, numbers.Integral) and s > 0 for s in shape):
        return
    if isinstance(rank, bool) or not isinstance(rank, numbers.Integral) or rank < 1:
        return
    # an object with a shape but no dtype (a DataFrame) becomes float64 unless told otherwise
    working = resolve_dtype(X, dtype) if hasattr(X, "dtype") or dtype is not None else np.dtype(np.float64)
    need = estimate_memory(shape, int(rank), spec, working, copies_x=copies_input(X, working))
    have = available_memory()
    if have is not None and need > have:
        m, n = shape
        raise MemoryLimitError(
            f"{spec.key} on a {m}x{n} {working.name} matrix at rank {rank} needs about {_size(need)}, "
            f"more than the {_size(have)} of memory available; use a smaller matrix or a subset of its columns")


def _size(nbytes: int) -> str:
    return f"{nbytes / 2**30:.1f} GiB" if nbytes >= 2**30 else f"{nbytes / 2**20:.0f} MiB"


def _shape(shape) -> tuple[int, int]:
    try:
        m, n = (int(s) for s in shape)
        ok = all(isinstance(s, numbers.Integral) for s in shape)
    except (TypeError, ValueError):
        ok = False
    if not ok or m < 1 or n < 1:
        raise ShapeError(f"shape must be two positive integers (m, n), got {shape!r}")
    return m, n


def _spec(solver):
    from ._spec import SolverSpec
    if isinstance(solver, SolverSpec):
        return solver
    from ._api import get_solver
    return get_solver(solver)
