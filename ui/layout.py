"""Page frame shared by every page: config, navigation, dataset and seed in the sidebar."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

import nmdcore

from . import data as uidata
from . import text, warmup
from .state import kept, persistent

#: (file, label, icon) of every page, in menu order. The files use Streamlit's
#: ``pages/`` convention; the built-in menu is hidden (.streamlit/config.toml) and
#: this list is drawn instead, so labels never depend on file names.
PAGES = (
    ("app.py", "Home", ":material/home:"),
    ("pages/1_Learn.py", "Learn", ":material/school:"),
    ("pages/2_Explore.py", "Explore", ":material/explore:"),
    ("pages/3_Compare.py", "Compare", ":material/compare_arrows:"),
    ("pages/4_Compress.py", "Compress", ":material/compress:"),
    ("pages/5_Symmetric.py", "Symmetric", ":material/hub:"),
    ("pages/6_Factorization_dynamics.py", "Factorization dynamics", ":material/timeline:"),
    ("pages/7_Applications.py", "Applications", ":material/lightbulb:"),
)

UPLOAD = "__upload__"
#: Catalogue entries not offered in the sidebar: the NMF basis is a long computation that
#: the Compress page runs with a progress bar and caches.
NOT_IN_PICKER = ("nmf_basis",)
ROOT = Path(__file__).resolve().parents[1]


def page(title: str, intro: str | None = None) -> None:
    """Configure the page, draw the navigation and the shared seed; show the title."""
    st.set_page_config(page_title=f"{title} · ReLU-NMD Explorer", page_icon=":material/grid_on:", layout="wide")
    warmup.start()  # compiled kernels ready before the first click (background thread, once per server)
    with st.sidebar:
        st.markdown("### ReLU-NMD Explorer")
        for path, label, icon in PAGES:
            if (ROOT / path).exists():
                st.page_link(path, label=label, icon=icon)
        st.divider()
        budget_note = uidata.memory_budget()[1]
        if budget_note:  # a bad NMD_APP_MEMORY_MB: said on every page, the default budget applies
            st.warning(budget_note)
    st.title(title)
    if intro:
        st.caption(intro)


def seed() -> int:
    """The shared random seed (sidebar; kept across pages)."""
    with st.sidebar:
        return int(persistent(st.number_input, "seed", 0, "Random seed", min_value=0,
                              max_value=2**31 - 1, step=1,
                              help="Seeds every random start and synthetic matrix, so runs repeat exactly."))


def dataset_picker(kinds: tuple | None = None) -> uidata.Data | None:
    """Sidebar dataset choice (catalogue or upload), kept across pages.

    Parameters
    ----------
    kinds : tuple of str, optional
        Catalogue kinds to offer (default: all).

    Returns
    -------
    Data or None
        None when nothing usable is chosen (the reason is shown).
    """
    entries = [e for e in uidata.catalogue()
               if e["name"] not in NOT_IN_PICKER and (kinds is None or e.get("kind") in kinds)]
    names = [e["name"] for e in entries] + [UPLOAD]
    titles = {e["name"]: e["title"] + ("" if e.get("offline") else " (download)") for e in entries}
    titles[UPLOAD] = "Your files (upload)…"
    default = uidata.default_dataset_name(entries) or UPLOAD
    with st.sidebar:
        choice = persistent(st.selectbox, "dataset", default, "Dataset", options=names,
                            format_func=lambda k: titles.get(k, k),
                            help="Built-in datasets work offline; uploads stay in this browser session.")
        entry = next((e for e in entries if e["name"] == choice), None)
        if entry and entry.get("description"):
            st.caption(entry["description"])
        if choice == UPLOAD:
            return _upload_box()
    try:
        return uidata.load_named(choice)
    except nmdcore.NMDError as exc:
        st.error(text.escape_markdown(exc))
        return None


def chosen_data(kinds: tuple | None = None) -> uidata.Data:
    """The sidebar's dataset, described in one line; stops the page when there is none."""
    data = dataset_picker(kinds)
    if data is None:
        st.stop()
    m, n = data.X.shape
    what = (f"{n} images of {data.image_shape[0]}×{data.image_shape[1]} px" if data.is_images else "matrix")
    zeros = 1.0 - np.count_nonzero(data.X) / data.X.size
    st.caption(f"**{text.escape_markdown(data.title)}** — X is {m}×{n} ({what}), {zeros:.0%} zeros, {data.X.dtype}.")
    return data


#: Choices of the control that repairs negative entries of an upload (None: refuse them).
REPAIR_LABELS = {None: "refuse", "clip": "clip at zero", "shift": "shift by the minimum", "abs": "absolute value"}


def _upload_box() -> uidata.Data | None:
    files = st.file_uploader(
        "Images (PNG, JPEG, PGM/PPM/PBM, BMP, TIFF, GIF; one per column, or a .zip of them) "
        "or one matrix (.npy, .npz, .csv, .txt, .mtx)",
        type=["png", "jpg", "jpeg", "pgm", "ppm", "pbm", "pnm", "bmp", "gif", "tif", "tiff",
              "npy", "npz", "csv", "txt", "mtx", "zip"],
        accept_multiple_files=True, key="upload", max_upload_size=20)
    repair = st.session_state.get("upload_repair", kept("upload_repair"))  # the control is drawn below
    negative = False
    if files:
        try:
            st.session_state["uploaded"] = uidata.load_files([(f.name, f.getvalue()) for f in files], repair=repair)
        except nmdcore.NMDError as exc:
            st.session_state.pop("uploaded", None)
            st.error(text.escape_markdown(exc))
            negative = isinstance(exc, nmdcore.NegativeEntriesError)
    data = st.session_state.get("uploaded")  # kept across pages, where the uploader starts empty
    if data is not None:
        negative = negative or any("negative" in reason for _, reason in data.skipped)
    if negative or repair is not None:
        persistent(st.radio, "upload_repair", None, "Negative entries", options=list(REPAIR_LABELS),
                   format_func=REPAIR_LABELS.get, horizontal=True,
                   help="ReLU-NMD needs a nonnegative matrix: refuse the upload, or repair it.")
    if data is None:
        if not files:
            st.info("Upload files to use them as the data matrix.")
        return None
    st.caption(f"{text.escape_markdown(data.title)}: {data.X.shape[0]}×{data.X.shape[1]}")
    for item, reason in data.skipped:
        st.warning(f"skipped {text.escape_markdown(item)}: {text.escape_markdown(reason)}")
    return data
