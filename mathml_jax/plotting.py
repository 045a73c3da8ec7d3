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
from collections.abc import Callable, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from mathml_jax.colors import THEORY  # noqa: E402
from mathml_jax.colors import color as _registry_color  # noqa: E402
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
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.title_fontsize": 9,
}

# The style is set once per process, when this module is imported (rcParams, not a context
# around axes creation): legends, titles and ticks made later follow it too.
matplotlib.rcParams.update(STYLE)

THEORY_STYLE = THEORY
#: the widest a figure may be (inches): on a 16:9 slide its text then reads at 9 pt or more
MAX_WIDTH = 10.0
#: the one rule for uncertainty bands and error bars: +-k standard errors, k = SE_BAND
SE_BAND = 2


def color(name: str) -> str:
    """One colour per name, the same in every figure of every experiment: the registry's
    (:mod:`mathml_jax.colors`); an unregistered name is an error."""
    return _registry_color(name)


def ordered_colors(n: int, cmap: str = "plasma") -> list[str]:
    """``n`` distinguishable colours in order, for a sequence (batch sizes, step sizes, ranks).

    Taken from a perceptually ordered colour map so that "larger" reads as "further along".
    """
    cm = plt.get_cmap(cmap)
    return [matplotlib.colors.to_hex(cm(0.05 + 0.8 * i / max(1, n - 1))) for i in range(n)]


def figure(title: str, ncols: int = 1, nrows: int = 1, width: float = 5.2, height: float = 4.0,
           **kwargs):
    """A figure with ``nrows x ncols`` axes in the house style; ``title`` states its point.

    The figure is at most :data:`MAX_WIDTH` inches wide (a wider request is scaled down,
    height with it), so text reads at slide size; FIGURES.md asks for at most 3 panels in a
    row (two rows of two beats a strip), which the tests check.
    """
    scale = min(1.0, MAX_WIDTH / (width * ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols * scale,
                                                    height * nrows * scale),
                             layout="constrained", **kwargs)
    # wrap the title to the figure's width (about 8.5 bold 13-pt characters an inch), between
    # words and never inside a $...$ formula
    fig.suptitle(_wrap(title, max(20, int(8.5 * width * ncols * scale))), fontsize=13,
                 fontweight="bold")
    for ax in np.atleast_1d(axes).ravel():
        _style_axes(ax)
    return fig, axes


def _wrap(title: str, width: int) -> str:
    """``textwrap.fill`` that never breaks inside a mathtext ``$...$`` span (its spaces are
    protected while wrapping) and leaves everything else as written."""
    parts = title.split("$")
    if len(parts) % 2 == 0:  # unbalanced: wrap as plain text
        return textwrap.fill(title, width=width)
    protected = "$".join(p.replace(" ", "\0") if i % 2 else p for i, p in enumerate(parts))
    return textwrap.fill(protected, width=width, break_long_words=False).replace("\0", " ")


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
    """Median of ``samples`` along ``axis`` as a line, with a shaded quantile band around it;
    the legend says what the band is ("median, 10-90% of 8 runs")."""
    s = np.asarray(samples, dtype=np.float64)
    med = np.median(s, axis=axis)
    lo, hi = np.quantile(s, quantiles, axis=axis)
    c = color_ or color(name or label)
    n = s.shape[axis]
    what = (f"median, {100 * quantiles[0]:.0f}-{100 * quantiles[1]:.0f}% of {n} runs"
            if n > 1 else "one run")
    ax.plot(x, med, color=c, label=f"{label} ({what})")
    if n > 1:
        ax.fill_between(x, lo, hi, color=c, alpha=0.2, linewidth=0)


def se_band(ax, x, mean, se, label: str, *, color_: str) -> None:
    """A mean with its +-SE_BAND standard-error band, labelled as such in the legend."""
    mean, se = np.asarray(mean, np.float64), np.asarray(se, np.float64)
    ax.plot(x, mean, color=color_, label=f"{label} (±{SE_BAND} SE)")
    ax.fill_between(x, mean - SE_BAND * se, mean + SE_BAND * se, color=color_, alpha=0.2,
                    linewidth=0)


def se_envelope(ax, x, centre, se, formula: str, *, clip: tuple[float, float] | None = None
                ) -> None:
    """Where theory says an estimate should lie: ``centre`` +- SE_BAND ``se`` as two black dotted
    lines, labelled ``formula`` and "(+-SE_BAND SE)" (e.g. a running average's sqrt(n) funnel).
    ``clip`` keeps the lines inside a range (a probability stays in [0, 1])."""
    band = SE_BAND * np.asarray(se, np.float64)
    lo, hi = centre - band, centre + band
    if clip is not None:
        lo, hi = np.clip(lo, *clip), np.clip(hi, *clip)
    ax.plot(x, hi, color="black", linestyle=":", linewidth=1.2, label=f"{formula} (±{SE_BAND} SE)")
    ax.plot(x, lo, color="black", linestyle=":", linewidth=1.2)


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
