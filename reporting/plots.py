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

# One colour per ranker, the same in every figure.
RANKER_COLORS = {"model": "tab:blue", "baseline": "tab:green",
                 "popularity": "tab:orange", "ease": "tab:purple"}
_SIZE = (6.4, 4.0)
_LOG_TICKS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
_DPI = 100


def slice_rmse_bars(slices: Sequence[Dict], overall_rmse: Optional[float]
                    ) -> bytes:
    """RMSE per slice as horizontal bars, example counts in the labels.

    slices: [{"slice": name, "example_count": n, "rmse": x}, ...] in the
    order to draw them, top to bottom.
    """
    return slice_metric_bars(slices, "rmse", "RMSE", overall_rmse)


def slice_metric_bars(slices: Sequence[Dict], metric: str, label: str,
                      overall: Optional[float]) -> bytes:
    """slices[i][metric] as horizontal bars, example counts in the labels.

    slices: [{"slice": name, "example_count": n, metric: x}, ...] in the
    order to draw them, top to bottom; x None (TFMA had no value, e.g. an
    AUC of a slice with one class) draws no bar.
    """
    height = max(_SIZE[1], 0.28 * len(slices) + 1.2)
    figure, axes = _figure((_SIZE[0], height))
    positions = np.arange(len(slices))
    axes.barh(positions, [np.nan if s.get(metric) is None else s[metric]
                          for s in slices], color="tab:blue")
    axes.set_yticks(positions, [f"{s['slice']} (n={s['example_count']:,})"
                                for s in slices], fontsize=8)
    axes.invert_yaxis()
    title = f"{label} per genre slice (TFMA)"
    if overall is not None:
        # Named in the title: a legend box would cover the bars.
        axes.axvline(overall, color="black", linestyle="--", linewidth=1)
        title += f"; dashed: overall {overall:.4f}"
    axes.set_xlabel(f"{label} on the eval split")
    axes.set_title(title, fontsize=11)
    return _png(figure)


def ranking_curves(curves: Dict[str, Dict[str, List[float]]],
                   points: Dict[str, Dict[str, float]], k: int,
                   curve_max_k: int = 20) -> bytes:
    """precision@k and recall@k against k, one line per ranker.

    curves: metrics.json's "curves" ({ranker: {"k": [...], "precision@k":
    [...], "recall@k": [...]}}). An evaluation made before curves existed
    has none; then `points` ({ranker: metrics}) gives one marker at k.
    """
    figure = Figure(figsize=(_SIZE[0] * 1.5, _SIZE[1]), dpi=_DPI)
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
    figure = Figure(figsize=size, dpi=_DPI)
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot(1, 1, 1)


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    # No "Software" tag: it holds matplotlib's URL, and the report carries
    # no outside references, not even inside an image.
    figure.savefig(buffer, format="png", bbox_inches="tight",
                   metadata={"Software": None})
    return buffer.getvalue()
