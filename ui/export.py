"""Static figures drawn with matplotlib: chart downloads (PNG, SVG, PDF) and image grids.

matplotlib rather than plotly's own image export: plotly writes images through Kaleido,
which drives a Chrome of its own that has to be found or downloaded on the machine,
whereas matplotlib is one wheel that carries its fonts (DejaVu), so every export works
on a fresh machine with no browser. Figures are built on :class:`matplotlib.figure.Figure`
directly (no pyplot): no global state, safe in Streamlit's script threads.

A chart's download is drawn from the very plotly figure shown on the page
(:func:`chart`), so its data, axis titles, log scale, x axis and colours are the ones
on screen.
"""
from __future__ import annotations

import io
import re

import numpy as np
from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

#: Formats offered for downloads: extension -> MIME type.
FORMATS = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}

_DASHES = {None: "-", "solid": "-", "dot": ":", "dash": "--", "dashdot": "-."}
_RC = {"font.family": "DejaVu Sans", "font.size": 10, "axes.titlesize": 11, "legend.fontsize": 9,
       "svg.fonttype": "none",  # text stays text in SVG (editable, searchable)
       "pdf.fonttype": 42, "axes.spines.top": False, "axes.spines.right": False}


def math_text(label: str) -> str:
    """A label written for the screen (Unicode, ``‖Z − WH‖_F`` or ``<sub>F</sub>``) with mathtext subscripts.

    ``_F``, ``<sub>max</sub>`` and the like become real subscripts; the Unicode symbols
    (‖, −, Θ, ᵀ) are drawn by the DejaVu font.
    """
    label = re.sub(r"<sub>(.*?)</sub>", r"_{\1}", label)
    return re.sub(r"_([A-Za-z0-9]+|\{[^}]*\})", lambda m: "$_{" + m.group(1).strip("{}") + "}$", label)


def _rgba(colour: str | None):
    """A plotly colour (``#rrggbb`` or ``rgba(r,g,b,a)``) for matplotlib."""
    if not colour:
        return None
    m = re.fullmatch(r"rgba?\(([^)]*)\)", colour.replace(" ", ""))
    if m:
        parts = [float(v) for v in m.group(1).split(",")]
        return (*[v / 255 for v in parts[:3]], parts[3] if len(parts) > 3 else 1.0)
    return colour


def chart(fig, *, size=(7.0, 3.8)) -> Figure:
    """The matplotlib version of one of this app's plotly line charts.

    Parameters
    ----------
    fig : plotly.graph_objects.Figure
        A single-axes chart of ``Scatter`` traces (as :mod:`ui.figures` draws them):
        lines with their names, colours and dashes, ``fill="tonexty"`` bands, a log
        or linear y axis, axis titles and an optional title.
    size : (float, float)
        Width and height in inches.

    Returns
    -------
    matplotlib.figure.Figure
    """
    with rc_context(_RC):
        out = Figure(figsize=size, layout="constrained")
        ax = out.add_subplot()
        ax.margins(x=0.01)
        previous = None
        for trace in fig.data:
            x = np.asarray(trace.x if trace.x is not None else np.arange(len(trace.y)), dtype=float)
            y = np.asarray(trace.y, dtype=float)
            line = trace.line
            colour = _rgba(line.color)
            name = math_text(trace.name) if trace.name and trace.showlegend is not False else None
            ax.plot(x, y, color=colour, linestyle=_DASHES.get(line.dash, "-"), linewidth=line.width or 1.8,
                    label=name)
            if trace.fill == "tonexty" and previous is not None and len(previous) == len(y):
                ax.fill_between(x, previous, y, color=_rgba(trace.fillcolor) or colour, alpha=None, linewidth=0)
            previous = y
        layout = fig.layout
        if layout.yaxis.type == "log":
            ax.set_yscale("log")
            low, high = ax.get_ylim()
            if high < 10 * low:  # less than a decade: plain numbers, as plotly shows them
                plain = FuncFormatter(lambda value, _: f"{value:.3g}")
                ax.yaxis.set_major_formatter(plain)
                ax.yaxis.set_minor_formatter(plain)
        ax.set_xlabel(math_text(layout.xaxis.title.text or ""))
        ax.set_ylabel(math_text(layout.yaxis.title.text or ""))
        if layout.title.text:
            ax.set_title(math_text(layout.title.text))
        ax.grid(True, which="major", color="#dddddd", linewidth=0.7)
        ax.grid(True, which="minor", axis="y", color="#f0f0f0", linewidth=0.5)
        if any(line.get_label() and not line.get_label().startswith("_") for line in ax.get_lines()):
            # below the axes, one entry per line: long labels never cover the curves or get cut
            out.legend(loc="outside lower center", frameon=False, ncols=1)
    return out


def image_grid(rows: list, *, row_labels=(), col_labels=(), title: str | None = None, vmin: float = 0.0,
               vmax: float = 1.0, cmap: str = "gray", tile_inches: float | None = None) -> Figure:
    """Images in a grid with gaps between them and their labels drawn in the image.

    Parameters
    ----------
    rows : list of list of 2-D arrays
        One list per row; every image of a row is drawn with the same colour scale.
    row_labels, col_labels : sequence of str
        Written left of each row and above each column (may be empty).
    title : str, optional
    vmin, vmax : float
        Colour range of every tile (images scaled to [0, 1] by default).
    cmap : str
        matplotlib colour map (grey levels by default).
    tile_inches : float, optional
        Width of one tile. By default about an inch for small images (upscaled by
        nearest neighbour, never blurred) and wide enough for one screen pixel per image
        pixel at 150 dpi for larger ones (up to 3.5 inches).

    Returns
    -------
    matplotlib.figure.Figure
    """
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    h, w = np.shape(rows[0][0])
    if tile_inches is None:
        tile_inches = min(max(0.95, w / 150), 3.5)
    label_w = 1.6 if row_labels else 0.1
    width = label_w + n_cols * tile_inches * 1.08
    header = (0.45 if col_labels else 0.1) + (0.35 if title else 0.0)
    height = n_rows * tile_inches * h / w * 1.08 + header
    with rc_context(_RC):
        out = Figure(figsize=(width, height))
        grid = out.add_gridspec(n_rows, n_cols, left=label_w / width, right=0.995, bottom=0.02,
                                top=1 - header / height, wspace=0.08, hspace=0.08)
        for i, row in enumerate(rows):
            for j, tile in enumerate(row):
                ax = out.add_subplot(grid[i, j])
                ax.imshow(np.asarray(tile, dtype=float), cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest",
                          aspect="equal")
                ax.set_xticks([])
                ax.set_yticks([])
                for spine in ax.spines.values():
                    spine.set_visible(False)
                if j == 0 and i < len(row_labels):
                    ax.set_ylabel(math_text(row_labels[i]), rotation=0, ha="right", va="center", labelpad=6)
                if i == 0 and j < len(col_labels):
                    ax.set_title(math_text(col_labels[j]), fontsize=8)
        if title:
            out.suptitle(math_text(title), y=1 - 0.05 / height, va="top")
    return out


def difference_view(original: np.ndarray, approximations: dict, *, title: str | None = None) -> Figure:
    """Images large enough to compare, with their error images underneath.

    Parameters
    ----------
    original : 2-D array
        The image approximated (any nonnegative scale).
    approximations : dict
        label -> 2-D array of the same shape (e.g. ``{"TSVD": ..., "ReLU-NMD": ...}``).
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        Top row: the original and every approximation on one grey scale. Bottom row:
        ``|original − approximation|`` on one white-to-red scale shared by all, with its
        colour bar and the relative error of each in its title.
    """
    top = float(np.max(original)) or 1.0
    errors = {k: np.abs(np.asarray(v, dtype=float) - original) for k, v in approximations.items()}
    emax = max(float(np.max(e)) for e in errors.values()) or 1.0
    n = 1 + len(approximations)
    norm = float(np.linalg.norm(original)) or 1.0
    with rc_context(_RC):
        out = Figure(figsize=(2.3 * n + 0.8, 5.2), layout="constrained")
        axes = out.subplots(2, n)
        for ax in axes.ravel():
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0, 0].imshow(original, cmap="gray", vmin=0, vmax=top, interpolation="nearest")
        axes[0, 0].set_title("original")
        axes[1, 0].axis("off")
        axes[1, 0].text(0.5, 0.5, "error images\n|original − approximation|\n(white = exact)", ha="center",
                        va="center", transform=axes[1, 0].transAxes)
        image = None
        for c, (label, approx) in enumerate(approximations.items(), start=1):
            axes[0, c].imshow(np.asarray(approx, dtype=float), cmap="gray", vmin=0, vmax=top,
                              interpolation="nearest")
            axes[0, c].set_title(math_text(label))
            image = axes[1, c].imshow(errors[label], cmap="Reds", vmin=0, vmax=emax, interpolation="nearest")
            axes[1, c].set_title(f"error {np.linalg.norm(errors[label]) / norm:.3f}")
        out.colorbar(image, ax=axes[1, :].tolist(), shrink=0.85, label="absolute error")
        if title:
            out.suptitle(math_text(title))
    return out


def figure_bytes(figure: Figure, fmt: str = "png", dpi: int = 200) -> bytes:
    """``figure`` saved as ``fmt`` (one of :data:`FORMATS`); PNG at ``dpi``."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown figure format {fmt!r} (known: {', '.join(FORMATS)})")
    buf = io.BytesIO()
    with rc_context(_RC):
        figure.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight", pad_inches=0.05, facecolor="white",
                       metadata={"Software": None} if fmt == "png" else None)
    return buf.getvalue()
