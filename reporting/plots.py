"""The run report's figures, each drawn to PNG bytes.

Figures are built with matplotlib's object API (Figure + the Agg canvas), not
pyplot: no global figure state, no display needed, nothing left open.
"""
import io
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter, ScalarFormatter

from reporting.report_data import MIN_SLICE_EXAMPLES

# One colour per ranker, the same in every figure.
RANKER_COLORS = {"model": "tab:blue", "baseline": "tab:green",
                 "popularity": "tab:orange", "ease": "tab:purple"}
_SIZE = (6.4, 4.0)
# The per-genre figure fills half the page: narrower, larger type, so
# its labels are at least 10 px where the page shows it (~600 px wide).
_SLICE_WIDTH = 5.6
SLICE_FONT_PT = 10
_SMALL_COLOR = "tab:gray"
_LOG_TICKS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
FIGURE_DPI = 100


def slice_rmse_bars(slices: Sequence[Dict], overall_rmse: Optional[float]
                    ) -> bytes:
    """RMSE per slice, example counts in the labels (slice_metric_figure).

    slices: [{"slice": name, "example_count": n, "rmse": x}, ...] in the
    order to draw them, top to bottom.
    """
    return slice_metric_bars(slices, "rmse", "RMSE", overall_rmse)


def slice_metric_bars(slices: Sequence[Dict], metric: str, label: str,
                      overall: Optional[float]) -> bytes:
    """slice_metric_figure as PNG bytes."""
    return _png(slice_metric_figure(slices, metric, label, overall))


def slice_metric_figure(slices: Sequence[Dict], metric: str, label: str,
                        overall: Optional[float]) -> Figure:
    """slices[i][metric] as dots joined to the overall value, example
    counts in the labels.

    slices: [{"slice": name, "example_count": n, metric: x}, ...] in the
    order to draw them, top to bottom; x None (TFMA had no value, e.g. an
    AUC of a slice with one class) draws nothing. The axis fits the values
    of the slices with at least MIN_SLICE_EXAMPLES examples (and the
    overall value), not 0: differences of a few hundredths show. A smaller
    slice is drawn hollow and grey; outside that axis, as a triangle at its
    edge with its value written beside it.
    """
    height = max(_SIZE[1], 0.3 * len(slices) + 1.4)
    figure, axes = _figure((_SLICE_WIDTH, height))
    values = [s.get(metric) for s in slices]
    small = [s["example_count"] < MIN_SLICE_EXAMPLES for s in slices]
    low, high = slice_axis_limits(
        [v for v, few in zip(values, small) if v is not None and not few]
        + ([overall] if overall is not None else [])
        or [v for v in values if v is not None])
    axes.set_xlim(low, high)
    centre = overall if overall is not None else (low + high) / 2
    for row, (value, few) in enumerate(zip(values, small)):
        if value is not None:
            _slice_point(axes, row, value, few, centre, (low, high))
    positions = np.arange(len(slices))
    axes.set_ylim(len(slices) - 0.5, -0.5)  # the first slice on top
    axes.set_yticks(positions, [_slice_label(s, metric) for s in slices],
                    fontsize=SLICE_FONT_PT)
    for tick, few in zip(axes.get_yticklabels(), small):
        if few:
            tick.set_color(_SMALL_COLOR)
    axes.tick_params(axis="x", labelsize=SLICE_FONT_PT)
    axes.grid(axis="x", alpha=0.3)
    title = f"{label} per genre slice (TFMA)"
    if overall is not None:
        # Named in the title: a legend box would cover the points.
        axes.axvline(overall, color="black", linestyle="--", linewidth=1)
        title += f"; dashed: overall {overall:.4f}"
    axes.set_xlabel(f"{label} on the eval split; hollow grey: n < "
                    f"{MIN_SLICE_EXAMPLES}", fontsize=SLICE_FONT_PT)
    axes.set_title(title, fontsize=SLICE_FONT_PT + 1)
    return figure


def slice_axis_limits(values: Sequence[float]) -> Tuple[float, float]:
    """The value axis of a per-slice figure: the values' range plus 15 %
    of it (at least 0.01) on each side, never below 0 for values that are
    not."""
    if not values:
        return 0.0, 1.0
    low, high = min(values), max(values)
    pad = max(0.15 * (high - low), 0.01)
    return (max(low - pad, 0.0) if low >= 0 else low - pad), high + pad


def _slice_point(axes, row: int, value: float, few: bool, centre: float,
                 limits: Tuple[float, float]) -> None:
    """One slice: a dot and its line from the overall value; a small slice
    hollow and grey, clipped to the axis with its value written there."""
    low, high = limits
    color = _SMALL_COLOR if few else "tab:blue"
    shown = min(max(value, low), high)
    axes.plot([centre, shown], [row, row], color=color, linewidth=2,
              alpha=0.6, solid_capstyle="butt")
    if shown == value:
        axes.plot([value], [row], marker="o", markersize=7, color=color,
                  markerfacecolor="white" if few else color)
        return
    above = value > high
    axes.plot([shown], [row], marker=">" if above else "<", markersize=8,
              color=color, markerfacecolor="white", clip_on=False)
    axes.annotate(f"{value:.2f}", (shown, row),
                  xytext=(-8 if above else 8, 0),
                  textcoords="offset points", va="center",
                  ha="right" if above else "left", color=color,
                  fontsize=SLICE_FONT_PT,
                  bbox={"boxstyle": "square,pad=0.1", "facecolor": "white",
                        "edgecolor": "none"})


def _slice_label(row: Dict, metric: str) -> str:
    label = f"{row['slice']} (n={row['example_count']:,})"
    if row.get(metric) is None:
        label += f", no {metric.upper()}"
    return label


def ranking_curves(curves: Dict[str, Dict[str, List[float]]],
                   points: Dict[str, Dict[str, float]], k: int,
                   curve_max_k: int = 20) -> bytes:
    """precision@k and recall@k against k, one line per ranker.

    curves: metrics.json's "curves" ({ranker: {"k": [...], "precision@k":
    [...], "recall@k": [...]}}). An evaluation made before curves existed
    has none; then `points` ({ranker: metrics}) gives one marker at k.
    """
    figure = Figure(figsize=(_SIZE[0] * 1.5, _SIZE[1]), dpi=FIGURE_DPI)
    FigureCanvasAgg(figure)
    for column, metric in enumerate(("precision@k", "recall@k")):
        axes = figure.add_subplot(1, 2, column + 1)
        for ranker in _ordered(curves or points):
            color = RANKER_COLORS.get(ranker)
            if curves:
                axes.plot(curves[ranker]["k"], curves[ranker][metric],
                          marker="o", markersize=3, color=color, label=ranker)
            else:
                axes.plot([k], [points[ranker][metric]], marker="o",
                          color=color, linestyle="none", label=ranker)
        axes.axvline(k, color="grey", linestyle=":", linewidth=1)
        last = max(curve_max_k, k)
        axes.set_xlim(0, last + 1)
        axes.set_xticks(sorted({1, k, last} | set(range(5, last + 1, 5))))
        axes.set_xlabel("k (recommendations per user)")
        axes.set_title(metric)
        axes.set_ylim(bottom=0)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8)
    if not curves:
        figure.suptitle(f"this evaluation has no curves: values at k={k} "
                        f"only", fontsize=9)
    figure.tight_layout()
    return _png(figure)


def rating_histograms(true_ratings: np.ndarray, predicted: np.ndarray
                      ) -> bytes:
    """True and predicted ratings of the eval split, same bins."""
    figure, axes = _figure(_SIZE)
    # Bins of a quarter star centred on each half star, so whole- and
    # half-star true ratings fall in the middle of a bin.
    edges = np.arange(0.375, 5.126, 0.25)
    axes.hist(true_ratings, bins=edges, color="tab:grey", alpha=0.5,
              label=f"true (mean {np.mean(true_ratings):.2f})")
    # An outline, so both distributions stay visible where they overlap.
    axes.hist(predicted, bins=edges, color="tab:blue", histtype="step",
              linewidth=2, label=f"predicted (mean {np.mean(predicted):.2f})")
    axes.set_xlabel("rating")
    axes.set_ylabel("eval rows")
    axes.set_title(f"Eval split: true vs predicted ratings "
                   f"({len(true_ratings):,} rows)")
    axes.legend(fontsize=8)
    return _png(figure)


def probability_histograms(positives: np.ndarray, negatives: np.ndarray
                           ) -> bytes:
    """Predicted probability of a positive for rated (label 1) and sampled
    unrated (label 0) pairs, same bins, each as a share of its group."""
    figure, axes = _figure(_SIZE)
    edges = np.linspace(0.0, 1.0, 41)
    for values, color, name, style in (
            (negatives, "tab:orange", "sampled unrated pairs",
             {"alpha": 0.5}),
            (positives, "tab:blue", "rated pairs",
             {"histtype": "step", "linewidth": 2})):
        if len(values):
            axes.hist(values, bins=edges, color=color,
                      weights=np.full(len(values), 1.0 / len(values)),
                      label=f"{name}: {len(values):,} "
                            f"(mean {np.mean(values):.3f})", **style)
    axes.set_xlim(0, 1)
    axes.set_xlabel("predicted probability of a positive")
    axes.set_ylabel("share of the group's pairs")
    axes.set_title(f"Eval split: rated vs sampled pairs "
                   f"({len(positives) + len(negatives):,} pairs)")
    axes.legend(fontsize=8)
    return _png(figure)


def training_loss(train: Sequence[Tuple[int, float]],
                  evaluation: Sequence[Tuple[int, float]]) -> bytes:
    """The Trainer's loss per logged step, and its eval loss point(s)."""
    figure, axes = _figure(_SIZE)
    if train:
        steps, losses = zip(*train)
        axes.plot(steps, losses, color="tab:blue", linewidth=1,
                  label="train loss")
        # The first steps' loss can be 10x the rest and flatten the curve.
        if min(losses) > 0 and max(losses) / min(losses) > 5:
            axes.set_yscale("log")
            axes.set_yticks([t for t in _LOG_TICKS
                             if min(losses) / 2 <= t <= max(losses) * 2])
            axes.yaxis.set_major_formatter(ScalarFormatter())
            axes.yaxis.set_minor_formatter(NullFormatter())
    if evaluation:
        steps, losses = zip(*evaluation)
        axes.plot(steps, losses, color="tab:red", marker="D", linestyle="none",
                  label="eval loss")
    if not train and not evaluation:
        axes.text(0.5, 0.5, "no loss summaries in the model_run artifact",
                  ha="center", va="center", transform=axes.transAxes)
    axes.set_xlabel("step")
    axes.set_ylabel("loss" + (" (log scale)" if axes.get_yscale() == "log"
                              else ""))
    axes.set_title("Trainer loss (TensorBoard summaries)")
    axes.grid(alpha=0.3)
    if train or evaluation:
        axes.legend(fontsize=8)
    return _png(figure)


def _ordered(rankers) -> List[str]:
    """Model first, then baseline, popularity, EASE, then anything else."""
    known = [name for name in RANKER_COLORS if name in rankers]
    return known + sorted(set(rankers) - set(known))


def _figure(size: Tuple[float, float]):
    figure = Figure(figsize=size, dpi=FIGURE_DPI)
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot(1, 1, 1)


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    # No "Software" tag: it holds matplotlib's URL, and the report carries
    # no outside references, not even inside an image.
    figure.savefig(buffer, format="png", bbox_inches="tight",
                   metadata={"Software": None})
    return buffer.getvalue()
