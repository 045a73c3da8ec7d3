"""The one look of every mathml-jax figure, and the few helpers every experiment needs.

- :func:`figure` makes a figure in the house style (sizes, fonts, grid, title that states the
  point of the figure).
- :func:`color` gives one stable colour per method / optimiser / batch size name across all
  experiments, so "adam" is the same colour everywhere.
- :func:`loglog_fit` draws measured errors on log-log axes with the fitted slope in the legend
  and, optionally, the theoretical line.
- :func:`band` draws a median line with a shaded spread (seeds, starts).
- :func:`contour_with_trajectories` draws level sets of a 2-D function with optimiser paths.

Experiments draw with these; the shared writer saves.
"""

from __future__ import annotations

import textwrap
import zlib
from collections.abc import Callable, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from mathml_jax.convergence import fitted_line  # noqa: E402

STYLE = {
    "figure.dpi": 100,
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.labelsize": 11,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linestyle": "-",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "lines.linewidth": 2.0,
    "savefig.bbox": "tight",
}

# Fixed colours for names that recur across experiments; anything else gets a stable colour
# from the tab20 palette, chosen by a hash of its name.
PALETTE = {
    "gd": "#1f77b4", "full batch": "#1f77b4", "sgd": "#ff7f0e", "momentum": "#2ca02c",
    "heavy_ball": "#2ca02c", "nesterov": "#d62728", "adagrad": "#9467bd", "rmsprop": "#8c564b",
    "adam": "#e377c2", "adamw": "#7f7f7f", "lion": "#bcbd22", "forward": "#ff7f0e",
    "central": "#2ca02c", "autodiff": "#1f77b4", "theory": "#000000", "reference": "#000000",
}
THEORY_STYLE = {"color": "black", "linestyle": "--", "linewidth": 1.5}


def color(name: str) -> str:
    """One colour per name, the same in every figure of every experiment."""
    key = str(name).lower()
    if key in PALETTE:
        return PALETTE[key]
    cmap = plt.get_cmap("tab10")
    return matplotlib.colors.to_hex(cmap(zlib.crc32(key.encode()) % 10))


def ordered_colors(n: int, cmap: str = "plasma") -> list[str]:
    """``n`` distinguishable colours in order, for a sequence (batch sizes, step sizes, ranks).

    Taken from a perceptually ordered colour map so that "larger" reads as "further along".
    """
    cm = plt.get_cmap(cmap)
    return [matplotlib.colors.to_hex(cm(0.05 + 0.8 * i / max(1, n - 1))) for i in range(n)]


def figure(title: str, ncols: int = 1, nrows: int = 1, width: float = 5.2, height: float = 4.0,
           **kwargs):
    """A figure with ``nrows x ncols`` axes in the house style; ``title`` states its point."""
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows),
                                 layout="constrained", **kwargs)
    # wrap the title to the figure's width (about 8.5 bold 13-pt characters an inch), so a long
    # statement is never clipped at the figure's edges
    fig.suptitle(textwrap.fill(title, width=max(20, int(8.5 * width * ncols))), fontsize=13,
                 fontweight="bold")
    for ax in np.atleast_1d(axes).ravel():
        _style_axes(ax)
    return fig, axes


def _style_axes(ax) -> None:
    for k, v in (("top", False), ("right", False)):
        ax.spines[k].set_visible(v)
    ax.grid(True, alpha=0.3)
    ax.tick_params(labelsize=10)


def loglog_fit(ax, x, y, label: str, *, name: str | None = None, marker: str = "o",
               fit_mask=None, show_fit: bool = True) -> float:
    """Plots y against x on log-log axes with the fitted slope in the legend; returns the slope.

    Args:
      fit_mask: boolean mask of the points the slope is fitted on (default: all positive).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    c = color(name or label)
    mask = np.ones_like(x, dtype=bool) if fit_mask is None else np.asarray(fit_mask)
    slope, intercept = fitted_line(x[mask], y[mask])
    ax.loglog(x, y, marker=marker, linestyle="-", color=c, markersize=4,
              label=f"{label} (slope {slope:.2f})" if show_fit else label)
    if show_fit:
        xs = x[mask]
        ax.loglog(xs, 10**intercept * xs**slope, color=c, linestyle=":", linewidth=1.2)
    return slope


def theory_line(ax, x, y, label: str) -> None:
    """The curve theory predicts, drawn in the one style for theory lines (black dashed)."""
    ax.plot(x, y, label=label, **THEORY_STYLE)


def band(ax, x, samples, label: str, *, name: str | None = None, axis: int = 0,
         quantiles: tuple[float, float] = (0.1, 0.9), color_: str | None = None) -> None:
    """Median of ``samples`` along ``axis`` as a line, with a shaded quantile band around it."""
    s = np.asarray(samples, dtype=np.float64)
    med = np.median(s, axis=axis)
    lo, hi = np.quantile(s, quantiles, axis=axis)
    c = color_ or color(name or label)
    ax.plot(x, med, color=c, label=label)
    if s.shape[axis] > 1:
        ax.fill_between(x, lo, hi, color=c, alpha=0.2, linewidth=0)


def contour_with_trajectories(ax, f: Callable[[np.ndarray, np.ndarray], np.ndarray],
                              xlim: Sequence[float], ylim: Sequence[float],
                              trajectories: dict[str, np.ndarray] | None = None, *,
                              levels: int | Sequence[float] = 30, log_levels: bool = False,
                              marker_points: dict[str, Sequence[float]] | None = None,
                              resolution: int = 200) -> None:
    """Level sets of ``f(X, Y)`` (vectorised over a grid) with labelled paths on top.

    Args:
      trajectories: name -> array of shape (steps, 2).
      marker_points: name -> (x, y) of special points (minimisers, saddles).
    """
    xs = np.linspace(*xlim, resolution)
    ys = np.linspace(*ylim, resolution)
    X, Y = np.meshgrid(xs, ys)
    Z = np.asarray(f(X, Y), dtype=np.float64)
    if log_levels:
        Z = np.log10(Z - Z.min() + 1e-3)
    ax.contour(X, Y, Z, levels=levels, cmap="viridis", linewidths=0.8, alpha=0.8)
    for name, path in (trajectories or {}).items():
        p = np.asarray(path)
        c = color(name)
        ax.plot(p[:, 0], p[:, 1], "-", color=c, linewidth=1.5, label=name)
        ax.plot(p[0, 0], p[0, 1], "o", color=c, markersize=5)
    for name, (px, py) in (marker_points or {}).items():
        ax.plot(px, py, "*", color="black", markersize=12)
        ax.annotate(name, (px, py), textcoords="offset points", xytext=(5, 5), fontsize=9)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal", adjustable="box")
