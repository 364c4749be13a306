"""The solver registry: one :class:`SolverSpec` per solver.

Each solver module declares its own specs; :data:`SOLVERS` collects them in a fixed,
readable order, and :func:`register` adds one from outside the package. Everything
else -- :func:`nmdcore.decompose`, :func:`nmdcore.estimate_memory`, the app's pickers
and controls, the benchmarks -- reads the specs, so a registered solver needs no edit
anywhere else (``docs/adding_a_solver.md``).
"""
from ._spec import Hyperparameter, MemoryModel, SolverSpec
from .solvers import ALL_SPECS

SOLVERS: dict[str, SolverSpec] = {spec.key: spec for spec in ALL_SPECS}


def register(spec: SolverSpec, *, replace: bool = False) -> SolverSpec:
    """Add ``spec`` to :data:`SOLVERS`, so that ``decompose(..., solver=spec.key)`` runs it.

    Parameters
    ----------
    spec : SolverSpec
    replace : bool
        Allow replacing a solver already registered under ``spec.key``.

    Returns
    -------
    SolverSpec
        ``spec``, so a module can write ``SPEC = register(SolverSpec(...))``.

    Raises
    ------
    TypeError
        When ``spec`` is not a :class:`SolverSpec`.
    ValueError
        When its key is not an identifier, or is taken and ``replace`` is False.
    """
    if not isinstance(spec, SolverSpec):
        raise TypeError(f"register needs a SolverSpec, got {type(spec).__name__}")
    if not spec.key.isidentifier():
        raise ValueError(f"a solver key must be a Python identifier, got {spec.key!r}")
    if spec.key in SOLVERS and not replace and SOLVERS[spec.key] is not spec:
        raise ValueError(f"a solver is already registered as {spec.key!r} (pass replace=True to replace it)")
    SOLVERS[spec.key] = spec
    return spec


__all__ = ["SOLVERS", "SolverSpec", "Hyperparameter", "MemoryModel", "register"]
