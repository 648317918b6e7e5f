"""The report's figures as PNG bytes, drawn with matplotlib's Agg backend (no display).

matplotlib is the ``report`` extra (``pip install "h3ds-hf[report]"``): only reports need it,
and it is imported when a figure is drawn.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from h3ds_hf.errors import H3DSError
from h3ds_hf.render.colours import error_colours

#: Samples of the colour bar's scale.
_BAR_STEPS = 256


def _pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend, imported on first use."""
    try:
        import matplotlib
    except ImportError:
        raise H3DSError('reports need matplotlib: pip install "h3ds-hf[report]"') from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def heatmap_figure(views: Mapping[str, np.ndarray], clip_mm: float, title: str) -> bytes:
    """Pictures side by side (name -> (H, W, 3) uint8, all of one size) under a title, with a
    colour bar from 0 to ``clip_mm`` (mm) of :func:`~h3ds_hf.render.colours.error_colours`;
    PNG bytes. Composed with PIL: only the bar is drawn by matplotlib, once per clip and
    height (matplotlib took ~0.5 s a figure)."""
    height, width = next(iter(views.values())).shape[:2]
    bar = colour_bar(clip_mm, height)
    line = 16  # pixels of a text line (PIL's default font is 11 px tall)
    canvas = Image.new("RGB", (width * len(views) + bar.shape[1], height + 2 * line), "white")
    draw = ImageDraw.Draw(canvas)
    draw.text((4, 2), title, fill="black")
    for k, (name, image) in enumerate(views.items()):
        canvas.paste(Image.fromarray(image), (k * width, 2 * line))
        draw.text((k * width + width // 2 - 3 * len(name), line + 2), name, fill="black")
    canvas.paste(Image.fromarray(bar), (width * len(views), 2 * line))
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


@functools.lru_cache(maxsize=16)
def colour_bar(clip_mm: float, height: int) -> np.ndarray:
    """(height, W, 3) uint8 picture of the colour scale with ticks in mm (W ~ height / 3)."""
    plt = _pyplot()
    from matplotlib.colors import ListedColormap, Normalize

    scale = error_colours(np.linspace(0, clip_mm, _BAR_STEPS), clip_mm) / 255.0
    dpi = 100
    figure = plt.figure(figsize=(0.9, height / dpi), dpi=dpi)
    axis = figure.add_axes((0.15, 0.05, 0.25, 0.9))
    mappable = plt.cm.ScalarMappable(Normalize(0, clip_mm), ListedColormap(scale))
    bar = figure.colorbar(mappable, cax=axis)
    bar.set_label("mm", fontsize=8)
    bar.ax.tick_params(labelsize=8)
    figure.canvas.draw()
    image = np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()
    plt.close(figure)
    return image


def curves_figure(
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]],
    max_mm: float,
    title: str,
    styles: Sequence[str] | None = None,
) -> bytes:
    """Cumulative error curves: label -> (d (K,) mm, fraction (K,) in [0, 1]); PNG bytes.

    ``styles``: one matplotlib line style per curve (default: solid)."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(6.0, 4.0))
    for k, (label, (d, fraction)) in enumerate(curves.items()):
        axis.plot(d, 100 * fraction, styles[k] if styles else "-", label=label, linewidth=1.5)
    axis.set_xlim(0, max_mm)
    axis.set_ylim(0, 100)
    axis.set_xlabel("distance d (mm)")
    axis.set_ylabel("GT vertices within d (%)")
    axis.grid(alpha=0.3)
    axis.set_title(title, fontsize=10)
    if curves:
        axis.legend(fontsize=8, loc="lower right")
    return _png(plt, figure)


def _png(plt: Any, figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()
