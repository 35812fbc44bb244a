"""One self-contained HTML page about the latest run of a local pipeline.

    python -m reporting.report --output-root outputs \\
        --pipeline-name movielens-wide-deep      # -> outputs/report.html
    python -m reporting.report --run-id RUN --out /tmp/run.html  # an earlier run

What ran (components, state, seconds; a cache hit with the seconds of the
execution it reused), how good the model is (the TopKEvaluator's rating
and ranking metrics beside the popularity ranker, the EASE ranker when the
evaluation has one, and the previous blessed model; the beyond-accuracy
metrics of the top-k lists when the evaluation has them; TFMA's overall and
per-genre metrics), whether it was blessed and why, where it was pushed,
which model is served (version, when and by which run it was pushed, its
metrics), and four figures: RMSE per genre, precision@k / recall@k against
k, true vs predicted eval ratings, training loss. A model that ranks below
the popularity ranker (ndcg@k or precision@k) gets a plain warning at the
top. After an unchanged re-run (the Pusher a cache hit) the banner says so
and names the served model, instead of a blessing decision nobody made in
that run.

A run trained with `--objective ranking` (the objective is read from the
Trainer's custom_config in the store, reporting/run_info.py) has no rating:
its TFMA metrics are AUC, binary accuracy, mean label and mean prediction on
the NegativeSampler's eval split, its TopKEvaluator has no rating metrics
(shown as "-"), and the rating figures become AUC per genre and the
predicted probability of the eval split's rated pairs against its sampled
negatives. Figures are embedded PNG data URIs and the CSS is inline: the file
opens offline, with no script, font or image fetched from anywhere.

Steps are plain functions, one module each: report_data.gather_report (ML
Metadata and artifacts -> dict), make_figures here (dict -> PNG bytes, drawn
by plots.py), report_page.render_html (-> str). A missing store, run or
artifact ends with `error: ...` and exit code 2.
"""
import argparse
import logging
import os
import sys
from typing import Dict, List, Optional, Tuple

from runtime.quiet import quiet_tensorflow

quiet_tensorflow()

from pipeline import configs  # noqa: E402
from reporting.report_data import (MIN_SLICE_EXAMPLES,  # noqa: E402
                                   ReportError, gather_report)
from reporting.report_page import RANKERS, render_html  # noqa: E402

# Written under the output root unless --out says otherwise.
REPORT_FILE = "report.html"


# ------------------------------------------------------------------ figures

_SMALL_SLICES = (f"; a slice with fewer than {MIN_SLICE_EXAMPLES} examples "
                 f"is hollow and grey and sets no axis limit (beyond the "
                 f"axis: a triangle at its edge, its value beside it)")

def make_figures(report: Dict) -> List[Tuple[str, bytes]]:
    """(caption, PNG bytes) of the four figures, in page order."""
    from components.topk_evaluator.evaluate import CURVE_MAX_K
    from reporting import plots
    topk = report["topk"]
    cutoffs = (f"k = 1..{CURVE_MAX_K}" if topk.get("curves") else
               f"k = {topk['k']} only (this evaluation has no curves)")
    if "eval_pairs" in report:  # TFMA judged sampled pairs: a classifier
        pairs = report["eval_pairs"]
        predictions = (
            "Predicted probability of a positive for the eval split's rated "
            "pairs and its sampled unrated pairs (what TFMA evaluated)",
            plots.probability_histograms(
                pairs["probability"][pairs["label"] == 1],
                pairs["probability"][pairs["label"] == 0]))
        slices = ("AUC per genre slice (TFMA); n is the slice's example "
                  "count" + _SMALL_SLICES, plots.slice_metric_bars(
                      report["slices"], "auc", "AUC",
                      report["tfma_overall"].get("auc")))
    else:
        predictions = (
            "Ratings of the eval split: true, and predicted by the model",
            plots.rating_histograms(report["eval_ratings"]["true"],
                                    report["eval_ratings"]["predicted"]))
        slices = ("RMSE per genre slice (TFMA); n is the slice's example "
                  "count" + _SMALL_SLICES, plots.slice_rmse_bars(
                      report["slices"], report["tfma_overall"].get(
                          "root_mean_squared_error")))
    return [
        (f"Precision and recall at {cutoffs}, over every unseen (user, item) "
         f"pair", plots.ranking_curves(
             topk.get("curves", {}),
             {name: topk[name] for name in RANKERS if name in topk},
             topk["k"], CURVE_MAX_K)),
        predictions,
        ("Training loss per logged step; the diamond is the final "
         "evaluation on the eval split",
         plots.training_loss(report["loss"]["train"], report["loss"]["eval"])),
        slices,
    ]


# ---------------------------------------------------------------------- CLI

def write_report(output_root: str, pipeline_name: str,
                 out: Optional[str] = None,
                 run_id: Optional[str] = None) -> str:
    """Gathers, draws and renders the report into `out` (default:
    default_out(output_root)); returns its path."""
    report = gather_report(output_root, pipeline_name, run_id)
    page = render_html(report, make_figures(report))
    out = out or default_out(output_root)
    out = os.path.abspath(out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w", encoding="utf-8") as handle:
        handle.write(page)
    return out


def default_out(output_root: str) -> str:
    """Where the report goes without --out: beside the run's outputs (which
    git ignores), not in the current folder."""
    return os.path.join(output_root, REPORT_FILE)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--output-root", default=configs.DEFAULT_OUTPUT_ROOT,
                        help="the local runner's --output-root (default: "
                             "%(default)s)")
    parser.add_argument("--pipeline-name", default=configs.PIPELINE_NAME,
                        help="the local runner's --pipeline-name (default: "
                             "%(default)s)")
    parser.add_argument("--out", default=None,
                        help=f"the HTML file to write (default: "
                             f"<output-root>/{REPORT_FILE})")
    parser.add_argument("--run-id", default=None,
                        help="report this pipeline run, as the store was "
                             "when it ended (default: the newest run)")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    # TFMA's loader logs TensorFlow deprecation warnings nobody can act on.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    try:
        path = write_report(args.output_root, args.pipeline_name, args.out,
                            args.run_id)
    except ReportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"report: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
