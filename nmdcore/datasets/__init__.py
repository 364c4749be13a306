"""Datasets for ReLU-NMD: the built-in catalogue, synthetic generators and uploads.

>>> from nmdcore import datasets
>>> [e.name for e in datasets.available()]          # doctest: +SKIP
>>> d = datasets.load("mnist5k", per_digit=50)       # 784 x 500, one image per column
>>> d.describe()["sparsity"]                         # doctest: +SKIP
>>> up = datasets.from_files([("a.png", png_bytes), ("b.png", other_bytes)])  # doctest: +SKIP
>>> up.skipped                                       # [(file, reason), ...] of what was not used

Nothing here imports streamlit; the app only displays what these functions return.
"""
from ._catalogue import Entry, available, load, nmf_basis_ready
from ._dataset import KINDS, Dataset
from ._nmf_basis import NMF_SETTINGS, cache_dir
from ._uploads import from_files

__all__ = ["available", "load", "nmf_basis_ready", "from_files", "Dataset", "Entry", "KINDS", "NMF_SETTINGS", "cache_dir"]
