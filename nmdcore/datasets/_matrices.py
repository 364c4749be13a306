"""Uploaded matrix files (.npy, .npz, .csv/.txt, .mtx) -> a raw 2-D array, within a size limit."""
from __future__ import annotations

import io
import math
import re
import warnings

import numpy as np
import scipy.sparse as sp

from .._errors import DatasetError, NMDError, NonFiniteError, ShapeError
from ._files import _extension, _one_line

MATRIX_EXTENSIONS = {".npy", ".npz", ".csv", ".txt", ".mtx"}

_SPLIT = re.compile(r"[,;\t ]+")


def _number_or_none(cell: str):
    try:
        return float(cell)
    except ValueError:
        return None


def _read_text_matrix(data: bytes, max_entries: int) -> np.ndarray:
    """CSV / whitespace text -> array, naming the row and column of any bad cell (1-based).

    Cells are separated by commas, semicolons, tabs or spaces; blank lines and lines starting
    with ``#`` are ignored, and a first line without any number is a header. A regular file
    with one separator is parsed by NumPy; anything else (or any problem) goes through the
    line-by-line reader, which says where the problem is.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DatasetError("is not UTF-8 text") from None
    lines = text.splitlines()
    first = _first_data_line(lines)
    if first is None:
        raise ShapeError("holds no numbers")
    header = all(_number_or_none(cell) is None for cell in _SPLIT.split(first[1]) if cell)
    numbers = _first_data_line(lines, first[0] + 1) if header else first
    if numbers is None:
        raise ShapeError("holds no numbers")
    _check_decimal_comma(*numbers)
    fast = _parse_regular_text(text, lines, first[0] + 1 if header else 0, numbers[1], max_entries)
    return fast if fast is not None else _parse_text_lines(lines, max_entries)


def _first_data_line(lines: list, start: int = 0) -> tuple | None:
    """(index, stripped text) of the first line from ``start`` on that is neither blank nor a comment."""
    for index in range(start, len(lines)):
        line = lines[index].strip()
        if line and not line.startswith("#"):
            return index, line
    return None


_DECIMAL_COMMA = re.compile(r"^[-+]?\d+,\d+$")


def _check_decimal_comma(index: int, line: str) -> None:
    """Refuse a file whose cells use decimal commas (``1,5;2,5``), which would read as more numbers."""
    for separator in (";", "\t", None):  # None: runs of whitespace
        cells = [c.strip() for c in line.split(separator)]
        if len(cells) > 1 and any(_DECIMAL_COMMA.match(c) for c in cells):
            example = next(c for c in cells if _DECIMAL_COMMA.match(c))
            raise DatasetError(f"uses decimal commas ({example[:20]!r} at row {index + 1}); "
                               "save it with decimal points")


def _parse_regular_text(text: str, lines: list, skip: int, sample: str, max_entries: int) -> np.ndarray | None:
    """The matrix of a file with one separator and finite numbers in every cell, else None.

    ``skip`` lines (up to a header) are not read; ``sample`` is the first line of numbers.
    """
    delimiter = next((d for d in (",", ";", "\t") if d in sample), None)
    width = len(sample.split(delimiter))
    if width * max(len(lines) - skip, 1) > max_entries:
        return None  # may be over the limit: the line reader stops as soon as it is
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            A = np.loadtxt(io.StringIO(text), delimiter=delimiter, comments="#", ndmin=2,
                           skiprows=skip, dtype=np.float64)
    except ValueError:
        return None
    data_lines = sum(1 for line in lines[skip:] if (t := line.strip()) and not t.startswith("#"))
    if A.shape[0] != data_lines or A.size > max_entries or not np.isfinite(A).all():
        return None
    return A


def _parse_text_lines(lines: list, max_entries: int) -> np.ndarray:
    rows, width, header_seen = [], None, False
    for line_no, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        cells = [c for c in _SPLIT.split(line) if c != ""]
        values = [_number_or_none(cell) for cell in cells]
        if all(v is None for v in values) and not rows and not header_seen:
            header_seen = True  # a header row of column names
            continue
        for col, (cell, v) in enumerate(zip(cells, values), start=1):
            if v is None:
                raise DatasetError(f"has text {cell[:20]!r} at row {line_no}, column {col}")
            if not np.isfinite(v):
                raise NonFiniteError(f"has {cell[:20]} at row {line_no}, column {col}")
        if width is None:
            width = len(values)
        elif len(values) != width:
            raise ShapeError(f"row {line_no} has {len(values)} values, expected {width}")
        rows.append(values)
        if len(rows) * width > max_entries:
            raise ShapeError(f"has more than {max_entries} entries (the limit)")
    if not rows:
        raise ShapeError("holds no numbers")
    return np.array(rows, dtype=np.float64)


def _check_declared_size(shape, max_entries: int) -> None:
    shape = tuple(int(s) for s in shape)  # Python ints: no overflow on absurd headers, plain in messages
    if math.prod(shape) > max_entries:
        shown = "x".join(str(s) for s in shape)
        raise ShapeError(f"has shape {shown}: more than {max_entries} entries (the limit)")


def _dense_from_sparse(A, max_entries: int) -> np.ndarray:
    _check_declared_size(A.shape, max_entries)
    data = A.tocoo().data
    bad = data.size - int(np.count_nonzero(np.isfinite(data)))
    if bad:
        raise NonFiniteError(f"has {bad} NaN or infinite entries")
    return A.toarray()


def _read_npy_array(array: np.ndarray, max_entries: int) -> np.ndarray:
    if array.dtype == bool or np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating):
        _check_declared_size(array.shape, max_entries)
        return array
    raise ShapeError(f"holds {array.dtype} values, not real numbers")


def _check_npy_header(fileobj, max_entries: int) -> None:
    """Refuse a .npy stream whose header declares more than ``max_entries`` entries.

    NumPy allocates the whole array before reading the data, so a 100-byte file that declares
    a huge shape would otherwise claim that much memory.
    """
    version = np.lib.format.read_magic(fileobj)
    if version == (1, 0):
        shape, _, _ = np.lib.format.read_array_header_1_0(fileobj)
    elif version == (2, 0):
        shape, _, _ = np.lib.format.read_array_header_2_0(fileobj)
    else:
        raise DatasetError(f"uses .npy format version {version[0]}.{version[1]}, which is not read here")
    _check_declared_size(shape, max_entries)


def _read_npz(data: bytes, max_entries: int) -> np.ndarray:
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        keys = list(archive.files)
        if {"format", "shape", "data"} <= set(keys):
            fmt = archive["format"].item()
            fmt = fmt.decode() if isinstance(fmt, bytes) else str(fmt)
            _check_declared_size(archive["shape"], max_entries)
    if {"format", "shape", "data"} <= set(keys):
        if fmt not in ("csr", "csc", "bsr", "coo"):
            raise DatasetError(f"holds a scipy sparse {fmt} matrix; save it as csr, csc or coo")
        try:
            A = sp.load_npz(io.BytesIO(data))
            if fmt != "coo":
                # scipy checks little on load: a bad indptr would make toarray() read stray memory
                A.check_format(full_check=True)
        except (ValueError, KeyError, OSError, TypeError, IndexError) as exc:
            raise ShapeError(f"is a broken scipy sparse {fmt} file ({_one_line(exc)})") from None
        return _dense_from_sparse(A, max_entries)
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        if len(keys) == 1:
            key = keys[0]
        elif "X" in keys:
            key = "X"
        else:
            raise ShapeError(f"holds several arrays ({', '.join(keys[:6])}); name the matrix 'X'")
        with archive.zip.open(f"{key}.npy") as member:
            _check_npy_header(member, max_entries)
        return _read_npy_array(archive[key], max_entries)


def _mtx_numbers(tokens: list, what: str) -> np.ndarray:
    try:
        return np.array(tokens, dtype=np.float64)
    except ValueError:
        bad = next(t for t in tokens if _number_or_none(t) is None)
        raise DatasetError(f"has {bad[:20]!r} where {what} should be") from None


def _read_mtx(data: bytes, max_entries: int) -> np.ndarray:
    """Matrix Market (coordinate or array; real, integer or pattern; general, symmetric or
    skew-symmetric), read here rather than by scipy.io.mmread, which crashes the process on some
    damaged files (scipy 1.17.1: a last value followed by junk and no newline)."""
    try:
        lines = data.decode("ascii").splitlines()
    except UnicodeDecodeError:
        raise DatasetError("is not a Matrix Market file (not ASCII text)") from None
    banner = lines[0].lower().split() if lines else []
    if len(banner) != 5 or banner[:2] != ["%%matrixmarket", "matrix"]:
        raise DatasetError("is not a Matrix Market file (no '%%MatrixMarket matrix' banner)")
    layout, field, symmetry = banner[2:]
    if field == "complex":
        raise ShapeError("holds complex values, not real numbers")
    if layout not in ("coordinate", "array") or field not in ("real", "double", "integer", "pattern") \
            or symmetry not in ("general", "symmetric", "skew-symmetric") \
            or (field == "pattern" and layout == "array"):
        raise DatasetError(f"has an unsupported Matrix Market kind: {layout} {field} {symmetry}")
    body = [ln for ln in lines[1:] if ln.strip() and not ln.lstrip().startswith("%")]
    if not body:
        raise DatasetError("has no size line")
    size = body[0].split()
    if len(size) != (3 if layout == "coordinate" else 2) or not all(t.isdigit() for t in size):
        raise DatasetError(f"has a bad size line {body[0][:40]!r}")
    m, n = int(size[0]), int(size[1])
    _check_declared_size((m, n), max_entries)
    if symmetry != "general" and m != n:
        raise DatasetError(f"is marked {symmetry} but is {m}x{n}")
    tokens = " ".join(body[1:]).split()
    A = np.zeros((m, n))
    if layout == "array":
        if symmetry == "general":
            count = m * n
        else:
            count = n * (n + 1) // 2 if symmetry == "symmetric" else n * (n - 1) // 2
        if len(tokens) != count:
            raise DatasetError(f"declares {count} values but holds {len(tokens)}")
        values = _mtx_numbers(tokens, "a number")
        if symmetry == "general":
            return values.reshape(n, m).T.copy()  # column-major
        rows, cols = np.tril_indices(n, 0 if symmetry == "symmetric" else -1)
        order = np.lexsort((rows, cols))  # the file lists the lower triangle column by column
        rows, cols = rows[order], cols[order]
    else:
        nnz = int(size[2])
        width = 2 if field == "pattern" else 3
        if len(tokens) != nnz * width:
            raise DatasetError(f"declares {nnz} entries but holds {len(tokens) / width:g}")
        table = _mtx_numbers(tokens, "an index or a value").reshape(nnz, width)
        index = table[:, :2]
        if np.any(index != np.round(index)) or np.any(index < 1) \
                or np.any(index[:, 0] > m) or np.any(index[:, 1] > n):
            raise DatasetError(f"has an entry index outside 1..{m} x 1..{n}")
        rows, cols = index[:, 0].astype(np.int64) - 1, index[:, 1].astype(np.int64) - 1
        values = np.ones(nnz) if field == "pattern" else table[:, 2]
    bad = values.size - int(np.count_nonzero(np.isfinite(values)))
    if bad:
        raise NonFiniteError(f"has {bad} NaN or infinite entries")
    np.add.at(A, (rows, cols), values)  # repeated coordinates add up, as in the format
    if symmetry != "general":
        off = rows != cols
        sign = 1.0 if symmetry == "symmetric" else -1.0
        np.add.at(A, (cols[off], rows[off]), sign * values[off])
    return A


def _read_matrix(filename: str, data: bytes, max_entries: int) -> np.ndarray:
    """Raw 2-D array of a matrix file; NMDError (with the file's name) when it cannot be read."""
    ext = _extension(filename)
    try:
        if not data:
            raise ShapeError("is empty (0 bytes)")
        if ext in (".csv", ".txt"):
            A = _read_text_matrix(data, max_entries)
        elif ext == ".mtx":
            A = _read_mtx(data, max_entries)
        elif ext == ".npz":
            A = _read_npz(data, max_entries)
        else:
            if data[:6] == b"\x93NUMPY":
                _check_npy_header(io.BytesIO(data), max_entries)
            A = _read_npy_array(np.load(io.BytesIO(data), allow_pickle=False), max_entries)
    except NMDError as exc:
        raise type(exc)(f"{filename} {exc}") from None
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            if data[:6] == b"\x93NUMPY" or data[:2] == b"PK":
                raise DatasetError(f"{filename} holds Python objects, which are never loaded (no pickle)") from None
            raise DatasetError(f"{filename} is not a NumPy {ext} file") from None
        raise DatasetError(f"{filename} cannot be read as a matrix ({_one_line(exc)})") from None
    except Exception as exc:  # untrusted bytes: any reader failure is this file's problem only
        raise DatasetError(f"{filename} is corrupt or truncated ({_one_line(exc)})") from None
    if A.ndim != 2:
        raise ShapeError(f"{filename} must hold a 2-D matrix, got shape {A.shape}")
    return A
