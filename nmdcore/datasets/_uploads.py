"""Uploaded files -> one :class:`Dataset`; every file that is not used is listed with why."""
from __future__ import annotations

import os
import posixpath
import re
from collections import Counter

import numpy as np

from .._errors import DatasetError, NMDError
from ._archives import _expand
from ._dataset import REPAIRS, Dataset, finish_matrix
from ._files import _extension, _Skip
from ._images import IMAGE_EXTENSIONS, _decode_image, _NotAnImage, _resize
from ._matrices import MATRIX_EXTENSIONS, _read_matrix

#: Defaults of the limits of :func:`from_files` (all configurable per call).
MAX_FILES = 5000
MAX_ENTRIES = 25_000_000          # entries of X (pixels of all images together); 200 MB as float64
MAX_BYTES = 512 * 2**20           # bytes of all files, after unzipping


def _check_files(files) -> list:
    if isinstance(files, (str, bytes)) or not hasattr(files, "__iter__"):
        raise DatasetError("files must be a sequence of (filename, bytes) pairs")
    out = []
    for item in files:
        if (not isinstance(item, (tuple, list)) or len(item) != 2 or not isinstance(item[0], str)
                or not isinstance(item[1], (bytes, bytearray, memoryview))):
            raise DatasetError("files must be a sequence of (filename, bytes) pairs")
        out.append((item[0], bytes(item[1])))
    if not out:
        raise DatasetError("no files were given")
    return out


def _check_limit(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise DatasetError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def from_files(files, *, image_shape=None, repair=None, max_files=MAX_FILES,
               max_entries=MAX_ENTRIES, max_bytes=MAX_BYTES, dtype=np.float64) -> Dataset:
    """Build a dataset from uploaded files.

    Images (PNG, JPEG, PGM/PPM/PBM, BMP, TIFF, GIF first frame, also inside .zip archives) become
    grayscale columns of one image set; a single image becomes the matrix itself. A matrix file
    (.npy, .npz dense or scipy sparse, .csv/.txt, .mtx) is used as it is; an upload holds one
    matrix, and images are ignored beside it.

    Only the image formats above are decoded, whatever a file is named; any other is skipped
    with its real format named. A zip member is inflated no further than its declared size
    (and refused unopened when that is over
    :data:`~nmdcore.datasets._archives.MAX_ZIP_RATIO` times its compressed size); the first
    member that holds something else than it declares stops the archive, and its remaining
    members are listed as not opened. Members named with ``..``, an absolute path or
    backslashes are listed as refused. A CSV with decimal commas (``1,5;2,5``) is refused.

    Parameters
    ----------
    files : sequence of (str, bytes)
        File names and contents, e.g. from a web upload widget.
    image_shape : (int, int) or None
        None: use the most common image shape and skip the other shapes. ``(h, w)``: resize
        every image to it.
    repair : {None, "clip", "shift", "abs"}
        What to do with negative entries: refuse (None), clip at zero, shift by the minimum,
        take absolute values.
    max_files, max_entries, max_bytes : int
        Limits on the number of files (zip members count), on the entries of the matrix
        (pixels of all images together) and on the bytes of all files after unzipping.
    dtype : float32 or float64

    Returns
    -------
    Dataset
        ``skipped`` lists every file that was not used, with the reason.

    Raises
    ------
    DatasetError
        (or NegativeEntriesError, NonFiniteError, ShapeError, ZeroMatrixError) when nothing
        usable is left.
    """
    files = _check_files(files)
    max_files = _check_limit("max_files", max_files)
    max_entries = _check_limit("max_entries", max_entries)
    max_bytes = _check_limit("max_bytes", max_bytes)
    if repair not in REPAIRS:
        raise DatasetError(f"repair must be one of None, 'clip', 'shift', 'abs'; got {repair!r}")
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise DatasetError(f"dtype must be float32 or float64, got {dtype}")
    if image_shape is not None:
        try:
            h, w = (int(v) for v in image_shape)
        except (TypeError, ValueError):
            raise DatasetError(f"image_shape must be (height, width), got {image_shape!r}") from None
        if h < 1 or w < 1:
            raise DatasetError(f"image_shape must be positive, got {image_shape!r}")
        image_shape = (h, w)

    skipped: list = []
    items = _expand(files, max_files, max_bytes, skipped)
    matrices = [(n, d) for n, d in items if _extension(n) in MATRIX_EXTENSIONS]
    if matrices:
        return _matrix_upload(items, matrices, skipped, image_shape, repair, max_entries, dtype)
    return _image_upload(items, skipped, image_shape, repair, max_entries, dtype)


def _matrix_upload(items, matrices, skipped, image_shape, repair, max_entries, dtype) -> Dataset:
    first_error = None
    chosen = None
    for name, data in matrices:
        if chosen is not None:
            skipped.append((name, f"an upload holds one matrix; {chosen[0]} was used"))
            continue
        try:
            A = finish_matrix(_read_matrix(name, data, max_entries), what=name, repair=repair, dtype=dtype)
        except NMDError as exc:
            first_error = first_error or exc
            skipped.append((name, str(exc)))
            continue
        chosen = (name, A)
    others = [(n, d) for n, d in items if _extension(n) not in MATRIX_EXTENSIONS]
    if chosen is None:
        if others:  # no matrix can be used: try the rest as images
            return _image_upload(others, skipped, image_shape, repair, max_entries, dtype)
        raise first_error
    for name, _ in others:
        skipped.append((name, "not used: the upload holds a matrix file"))
    name, A = chosen
    symmetric = A.shape[0] == A.shape[1] and np.array_equal(A, A.T)
    return Dataset(X=A, name="upload", skipped=skipped, title=os.path.basename(name),
                   kind="symmetric" if symmetric else "sparse_matrix", source=f"uploaded file {name}", licence="the uploader's",
                   meta={"files": [name], "repair": repair})


def _image_upload(items, skipped, image_shape, repair, max_entries, dtype) -> Dataset:
    images, decoded = [], 0
    for name, data in items:
        ext = _extension(name)
        if not data:
            skipped.append((name, "empty file (0 bytes)"))
            continue
        try:
            image = _decode_image(data, max_entries, max_entries - decoded)
            decoded += image.size
            negative = int(np.count_nonzero(image < 0))
            if negative and repair is None:
                raise _Skip(f"has {negative} negative pixels; choose a repair: clip at zero, shift or absolute value")
            images.append((name, image))
        except _Skip as why:
            reason = str(why)
            if ext not in IMAGE_EXTENSIONS and isinstance(why, _NotAnImage):
                reason = f"unsupported file type {ext or '(no extension)'}"
            skipped.append((name, reason))
    if not images:
        detail = "; ".join(f"{n}: {r}" for n, r in skipped[:3])
        raise DatasetError(f"no usable file in the upload ({detail})" if detail else "no usable file in the upload")

    if image_shape is None:
        counts = Counter(img.shape for _, img in images)
        target = max(counts, key=counts.get)  # most common; ties go to the first seen
        kept = []
        for name, img in images:
            if img.shape == target:
                kept.append((name, img))
            else:
                skipped.append((name, f"shape {img.shape[0]}x{img.shape[1]} differs from the most common "
                                      f"{target[0]}x{target[1]}; pass image_shape to resize"))
    else:
        target = image_shape
        kept = [(n, img if img.shape == target else _resize(img, target)) for n, img in images]

    pixels = target[0] * target[1]
    budget = max(max_entries // pixels, 0)
    for name, _ in kept[budget:]:
        skipped.append((name, f"over the limit of {max_entries} pixels in all"))
    kept = kept[:budget]
    if not kept:
        raise DatasetError(f"no usable image: {target[0]}x{target[1]} images exceed the limit of "
                           f"{max_entries} pixels")
    names = [n for n, _ in kept]
    if len(kept) == 1:
        name, img = kept[0]
        X = finish_matrix(img, what=f"the image {name}", repair=repair, dtype=dtype)
        return Dataset(X=X, name="upload", skipped=skipped, title=os.path.basename(name), kind="image",
                       source=f"uploaded image {name}", licence="the uploader's", meta={"files": names})
    stack = np.stack([img.ravel() for _, img in kept], axis=1)
    X = finish_matrix(stack, what=f"the {len(kept)} uploaded images", repair=repair, dtype=dtype)
    labels, classes = _folder_labels(names)
    return Dataset(X=X, name="upload", image_shape=tuple(target), labels=labels, skipped=skipped,
                   title=f"{len(kept)} uploaded images", kind="image_set", source="uploaded images",
                   licence="the uploader's", meta={"files": names, "classes": classes})


def _natural_key(text: str) -> list:
    """Sort key that puts s2 before s10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _folder_labels(names: list) -> tuple:
    """Class ids from the folders of the images (as in a zip of s1/, s2/, ...), when there are several."""
    folders = [posixpath.dirname(n) for n in names]
    distinct = sorted(set(folders), key=_natural_key)
    if len(distinct) < 2 or "" in distinct:
        return None, None
    index = {folder: i for i, folder in enumerate(distinct)}
    return np.array([index[f] for f in folders]), [posixpath.basename(f) for f in distinct]
