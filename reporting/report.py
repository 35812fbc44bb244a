"""One self-contained HTML page about the latest run of a local pipeline.

    python -m reporting.report --output-root outputs \\
        --pipeline-name movielens-wide-deep --out report.html

What ran (components, state, seconds), how good the model is (the
TopKEvaluator's rating and ranking metrics beside the popularity ranker and
the previous blessed model, TFMA's overall and per-genre metrics), whether it
was blessed and why, where it was pushed, and four figures: RMSE per genre,
precision@k / recall@k against k, true vs predicted eval ratings, training
loss.

A run trained with `--objective ranking` (the objective is read from the
Trainer's custom_config in the store, reporting/run_info.py) has no rating:
its TFMA metrics are AUC, binary accuracy, mean label and mean prediction on
the NegativeSampler's eval split, its TopKEvaluator has no rating metrics
(shown as "-"), and the rating figures become AUC per genre and the
predicted probability of the eval split's rated pairs against its sampled
negatives. Figures are embedded PNG data URIs and the CSS is inline: the file
opens offline, with no script, font or image fetched from anywhere.

Steps are plain functions: gather_report (ML Metadata and artifacts -> dict),
make_figures (dict -> PNG bytes), render_html (-> str). A missing store, run
or artifact ends with `error: ...` and exit code 2.
"""
import argparse
import base64
import contextlib
import datetime
import html
import logging
import os
import sys
import warnings
from typing import (Dict, Iterator, List, NamedTuple, Optional, Sequence,
                    Tuple)

# TensorFlow's C++ start-up chatter and google-api-core's notice about Python
# 3.10 are noise on a console (as in local_runner.py).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore", message=".*non-supported Python version.*")

from pipeline import configs  # noqa: E402
from trainer_module.features import (RANKING_OBJECTIVE,  # noqa: E402
                                     RATING_OBJECTIVE)

RANKERS = ("model", "baseline", "popularity")
RATING_METRICS = ("rmse", "mae", "rsquared", "exp_var")
RANKING_METRICS = ("precision@k", "recall@k", "ndcg@k", "map", "map@k")
# TFMA's metric names, in the order the report lists them.
TFMA_METRICS = ("example_count", "root_mean_squared_error",
                "mean_absolute_error", "mean_squared_error")
TFMA_RANKING_METRICS = ("example_count", "auc", "binary_accuracy",
                        "mean_label", "mean_prediction")
NO_GENRE = "(no genre)"


class ObjectiveView(NamedTuple):
    """What the page shows of an objective's TFMA metrics."""
    title: str  # for the header
    tfma_order: Tuple[str, ...]  # overall table order (others follow)
    slice_columns: Tuple[Tuple[str, str], ...]  # (column, TFMA metric)
    headline: str  # the slice column of the per-genre figure and delta


VIEWS = {
    RATING_OBJECTIVE: ObjectiveView(
        "rating (regression on the rating)", TFMA_METRICS,
        (("rmse", "root_mean_squared_error"), ("mae", "mean_absolute_error")),
        "rmse"),
    RANKING_OBJECTIVE: ObjectiveView(
        "ranking (classifier of rated vs sampled unrated pairs)",
        TFMA_RANKING_METRICS,
        (("auc", "auc"), ("binary_accuracy", "binary_accuracy"),
         ("mean_label", "mean_label"),
         ("mean_prediction", "mean_prediction")),
        "auc"),
}


class ReportError(Exception):
    """The store, the run or an artifact the report needs is missing."""


# ---------------------------------------------------------------- gathering

def gather_report(output_root: str, pipeline_name: str) -> Dict:
    """Everything the page shows, from the run's metadata and artifacts."""
    from pipeline import metadata_report
    from reporting import run_info
    try:
        store = metadata_report.open_existing_store(
            configs.LocalPaths(output_root, pipeline_name).metadata_path)
    except FileNotFoundError as error:
        raise ReportError(str(error)) from None
    run_id, started = latest_run(store)
    report = {"pipeline": pipeline_name, "run_id": run_id,
              "started": started,
              "components": metadata_report.component_runs(store)}
    report.update(topk_results(store))
    with _reading("the Trainer's custom_config in the metadata store"):
        objective = run_info.model_objective(store, report["model_uri"])
    report["objective"] = objective
    tfma_uri = _required(metadata_report.latest_evaluation_uri(store),
                         "the Evaluator's (TFMA) evaluation")
    with _reading("the TFMA evaluation " + tfma_uri):
        report["tfma_uri"] = tfma_uri
        report["tfma_overall"] = metadata_report.overall_metrics(tfma_uri)
        report["slices"] = slice_metrics(tfma_uri, objective)
    report["tfma_blessed"] = metadata_report.latest_blessing(store,
                                                             "Evaluator")
    report["push"] = push_result(store)
    if objective == RANKING_OBJECTIVE:
        report.update(eval_pairs(store, report["model_uri"]))
    else:
        report["eval_ratings"] = eval_ratings(store, report["model_uri"])
    model_run = _required(metadata_report.latest_output(
        store, "Trainer", "model_run"), "the Trainer's model_run").uri
    with _reading("the Trainer's TensorBoard events in " + model_run):
        report["model_run_uri"] = model_run
        report["loss"] = read_loss(model_run)
    return report


def latest_run(store) -> Tuple[str, datetime.datetime]:
    """Id and start time (UTC) of the newest pipeline run in the store."""
    from pipeline import metadata_report
    ids = metadata_report.run_ids(store)
    if not ids:
        raise ReportError("the metadata store holds no pipeline run")
    context = store.get_context_by_type_and_name("pipeline_run", ids[-1])
    started = datetime.datetime.fromtimestamp(
        context.create_time_since_epoch / 1000, tz=datetime.timezone.utc)
    return ids[-1], started


def topk_results(store) -> Dict:
    """The TopKEvaluator's metrics.json and what its blessing names."""
    from components.topk_evaluator.executor import read_evaluation
    from pipeline import metadata_report
    uri = _required(metadata_report.latest_evaluation_uri(
        store, "TopKEvaluator"), "the TopKEvaluator's evaluation")
    with _reading("the TopKEvaluator's metrics.json in " + uri):
        metrics = read_evaluation(uri)
    blessing = _required(metadata_report.latest_output(
        store, "TopKEvaluator", "blessing"), "the TopKEvaluator's blessing")
    props = blessing.custom_properties
    if "current_model" in props:
        model_uri = props["current_model"].string_value
    else:  # a blessing written before the property existed
        model_uri = _required(metadata_report.latest_output(
            store, "Trainer", "model"), "the Trainer's model").uri
    return {"topk": metrics, "topk_uri": uri, "model_uri": model_uri,
            # A re-run evaluates the model against itself: no comparison.
            "model_is_baseline": ("baseline_model_id" in props
                                  and props["baseline_model_id"].int_value
                                  == props["current_model_id"].int_value),
            "baseline_uri": (props["baseline_model"].string_value
                             if "baseline_model" in props else None)}


def slice_metrics(evaluation_uri: str,
                  objective: str = RATING_OBJECTIVE) -> List[Dict]:
    """Per-genre example_count and the objective's slice columns (rating:
    rmse, mae; ranking: auc, binary_accuracy, mean_label, mean_prediction)
    from TFMA, None where TFMA has no value; most examples first."""
    import tensorflow_model_analysis as tfma
    from trainer_module.features import GENRE_SLICE_KEY
    rows = []
    for slice_key, metrics in tfma.load_eval_result(
            evaluation_uri).slicing_metrics:
        if len(slice_key) != 1 or slice_key[0][0] != GENRE_SLICE_KEY:
            continue
        values = {name: value.get("doubleValue")
                  for name, value in metrics[""][""].items()}
        row = {"slice": str(slice_key[0][1]) or NO_GENRE,
               "example_count": int(values["example_count"])}
        for column, name in VIEWS[objective].slice_columns:
            row[column] = values.get(name)
        if objective == RANKING_OBJECTIVE and values.get("mean_label") in (
                0.0, 1.0):
            row["auc"] = None  # one class only: TFMA's 0 is no AUC
        rows.append(row)
    return sorted(rows, key=lambda row: (-row["example_count"], row["slice"]))


def push_result(store) -> Dict:
    """Whether this run's Pusher pushed, where, and what is served now."""
    from pipeline import metadata_report
    artifact = metadata_report.latest_output(store, "Pusher", "pushed_model")
    pushed = (artifact is not None
              and artifact.custom_properties["pushed"].int_value == 1)
    return {"pushed": pushed,
            "destination": (artifact.custom_properties[
                "pushed_destination"].string_value if pushed else None),
            "served": metadata_report.latest_pushed_model(store)}


def eval_ratings(store, model_uri: str) -> Dict:
    """The eval split's true ratings and the model's predictions for them."""
    import numpy as np
    from pipeline import metadata_report
    from trainer_module import features
    examples = _required(metadata_report.latest_examples(store),
                         "CsvExampleGen's examples")
    rows, predicted, _ = _score_eval_split(examples, model_uri)
    return {"true": rows[features.LABEL_KEY].to_numpy(np.float64),
            "predicted": predicted.astype(np.float64)}


def _score_eval_split(examples, model_uri: str):
    """(eval rows, the model's predictions, its scores) for an Examples
    artifact's eval split."""
    import numpy as np
    from tfx.utils import path_utils
    from components.topk_evaluator import data
    from components.topk_evaluator.scoring import ModelScorer
    from trainer_module import features
    with _reading(f"the eval split of {examples.uri}"):
        rows = data.read_split(examples, configs.EVAL_SPLIT)
    with _reading("the Trainer's model " + model_uri):
        predictions, scores = ModelScorer(path_utils.serving_model_path(
            model_uri)).predict(
                rows[features.USER_KEY].to_numpy(np.int64),
                rows[features.ITEM_KEY].to_numpy(np.int64),
                rows[features.GENRES_KEY].to_numpy(object))
    return rows, predictions, scores


def eval_pairs(store, model_uri: str) -> Dict:
    """The ranking objective's eval split (the NegativeSampler's: rated
    pairs, label 1, and sampled unrated ones, label 0, as TFMA evaluated
    them) with the model's probability and logit for each pair."""
    import numpy as np
    from tfx.types import standard_artifacts
    from pipeline import metadata_report
    from trainer_module import features
    found = _required(metadata_report.latest_output(
        store, "NegativeSampler", "sampled_examples"),
        "NegativeSampler's sampled examples")
    examples = standard_artifacts.Examples()
    examples.uri = found.uri
    examples.split_names = found.properties["split_names"].string_value
    rows, probability, score = _score_eval_split(examples, model_uri)
    # A sampled negative's rating is 0.0, below any real rating.
    label = (rows[features.LABEL_KEY].to_numpy(np.float64)
             >= features.RATING_MIN).astype(np.int64)
    return {"sampled_uri": found.uri,
            "eval_pairs": {"label": label,
                           "probability": probability.astype(np.float64),
                           "score": score.astype(np.float64)}}


def read_loss(model_run_uri: str) -> Dict[str, List[Tuple[int, float]]]:
    """(step, loss) of the "loss" scalar: training events in the folder,
    evaluation events in its eval* sub-folders (estimator: eval_<name>)."""
    import tensorflow as tf
    found = {}
    for name, pattern in (("train", "events.out.tfevents.*"),
                          ("eval", os.path.join("eval*",
                                                "events.out.tfevents.*"))):
        points = {}
        for path in sorted(tf.io.gfile.glob(os.path.join(model_run_uri,
                                                         pattern))):
            points.update(_scalar_points(path, "loss"))
        found[name] = sorted(points.items())
    return found


def _scalar_points(event_file: str, tag: str) -> Dict[int, float]:
    import tensorflow as tf
    points = {}
    for event in tf.compat.v1.train.summary_iterator(event_file):
        for value in event.summary.value:
            if value.tag != tag:
                continue
            if value.WhichOneof("value") == "simple_value":
                points[event.step] = float(value.simple_value)
            elif value.WhichOneof("value") == "tensor":
                points[event.step] = float(tf.make_ndarray(value.tensor))
    return points


def _required(found, what: str):
    if found is None:
        raise ReportError(f"the latest run has no {what} (did the pipeline "
                          f"stop before it? run `python local_runner.py`)")
    return found


@contextlib.contextmanager
def _reading(what: str) -> Iterator[None]:
    """Turns a failed read of an artifact into a ReportError naming it."""
    import tensorflow as tf
    try:
        yield
    except (OSError, ValueError, KeyError, tf.errors.OpError) as error:
        raise ReportError(f"cannot read {what}: "
                          f"{type(error).__name__}: {error}") from error


# ------------------------------------------------------------------ figures

def make_figures(report: Dict) -> List[Tuple[str, bytes]]:
    """(caption, PNG bytes) of the four figures, in page order."""
    from components.topk_evaluator.evaluate import CURVE_MAX_K
    from reporting import plots
    topk = report["topk"]
    cutoffs = (f"k = 1..{CURVE_MAX_K}" if topk.get("curves") else
               f"k = {topk['k']} only (this evaluation has no curves)")
    ranking = _objective(report) == RANKING_OBJECTIVE
    if ranking:
        pairs = report["eval_pairs"]
        predictions = (
            "Predicted probability of a positive for the eval split's rated "
            "pairs and its sampled unrated pairs (what TFMA evaluated)",
            plots.probability_histograms(
                pairs["probability"][pairs["label"] == 1],
                pairs["probability"][pairs["label"] == 0]))
        slices = ("AUC per genre slice (TFMA); n is the slice's example "
                  "count", plots.slice_metric_bars(
                      report["slices"], "auc", "AUC",
                      report["tfma_overall"].get("auc")))
    else:
        predictions = (
            "Ratings of the eval split: true, and predicted by the model",
            plots.rating_histograms(report["eval_ratings"]["true"],
                                    report["eval_ratings"]["predicted"]))
        slices = ("RMSE per genre slice (TFMA); n is the slice's example "
                  "count", plots.slice_rmse_bars(
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


def _objective(report: Dict) -> str:
    # A report dict gathered before objectives existed is a rating run's.
    return report.get("objective", RATING_OBJECTIVE)


# ---------------------------------------------------------------- rendering

_CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222;
       max-width: 1240px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 24px 0 8px; border-bottom: 1px solid #ddd; }
.meta { color: #555; margin: 0 0 12px; }
.verdict { padding: 8px 12px; border-radius: 4px; font-weight: 600; }
.blessed { background: #e3f4e3; border-left: 6px solid #2e7d32; }
.not-blessed { background: #fbe4e4; border-left: 6px solid #c62828; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 8px 24px;
        align-items: start; }
table { border-collapse: collapse; margin: 4px 0; }
th, td { padding: 2px 10px; border-bottom: 1px solid #eee; text-align: right; }
th { background: #f4f4f4; }
th:first-child, td:first-child { text-align: left; }
.ok { color: #2e7d32; font-weight: 600; }
.failed { color: #c62828; font-weight: 600; }
.note { color: #666; font-size: 13px; }
figure { margin: 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: 13px; }
code { font-size: 12px; word-break: break-all; }
"""


def format_metric(value: Optional[float]) -> str:
    """How the page writes a metric value (as the TopKEvaluator's summary)."""
    return "-" if value is None else f"{value:.4f}"


def render_html(report: Dict, figures: Sequence[Tuple[str, bytes]]) -> str:
    """The whole page; every piece of text is escaped."""
    curves, ratings, loss, slices = [_figure(caption, png)
                                     for caption, png in figures]
    ranking = _objective(report) == RANKING_OBJECTIVE
    body = "\n".join([
        _header(report),
        _grid(_section("Components of this run", _component_table(report)),
              _section("Blessing and push", _blessing(report))),
        _grid(_section("Model quality (TopKEvaluator)", _topk_table(report)),
              _section("TFMA (Evaluator) on the eval split",
                       _tfma_overall_table(report["tfma_overall"],
                                           _objective(report)))),
        _section("Ranking against k", curves),
        _grid(_section("Predicted probability: rated vs sampled pairs"
                       if ranking else "Predicted vs true ratings", ratings),
              _section("Training loss", loss)),
        _grid(_section("AUC per genre" if ranking else "RMSE per genre",
                       slices),
              _section("TFMA per genre slice", _slice_table(report))),
        _section("Artifacts", _artifact_list(report)),
    ])
    title = _e(f"{report['pipeline']} run {report['run_id']}")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{title}</title><style>{_CSS}</style></head>\n"
            f"<body>\n{body}\n</body></html>\n")


def _header(report: Dict) -> str:
    topk, pool = report["topk"], report["topk"]["pool"]
    blessed = topk.get("blessing", {}).get("blessed", False)
    push = report["push"]
    if push["pushed"]:
        outcome = f"pushed to {push['destination']}"
    else:
        outcome = (f"not pushed; the served model is still "
                   f"{push['served'] or 'none'}")
    verdict = ("BLESSED" if blessed else "NOT BLESSED") + " \u2014 " + outcome
    objective = _objective(report)
    if objective == RANKING_OBJECTIVE:
        labels = report["eval_pairs"]["label"]
        evaluated = (f"{len(labels):,} eval pairs ({int(labels.sum()):,} "
                     f"rated, {int((labels == 0).sum()):,} sampled "
                     f"negatives)")
    else:
        evaluated = f"{len(report['eval_ratings']['true']):,} eval ratings"
    meta = (f"run {report['run_id']} \u00b7 started "
            f"{report['started']:%Y-%m-%d %H:%M:%S} UTC \u00b7 "
            f"objective: {VIEWS[objective].title} \u00b7 "
            f"{sum(c.seconds for c in report['components']):,.0f} s of "
            f"component time \u00b7 data: {pool['users']:,} users \u00d7 "
            f"{pool['items']:,} items, {pool['pairs']:,} unseen pairs ranked, "
            f"{evaluated}")
    css = "blessed" if blessed else "not-blessed"
    return (f"<h1>{_e(report['pipeline'])}</h1>\n"
            f'<p class="meta">{_e(meta)}</p>\n'
            f'<p class="verdict {css}">{_e(verdict)}</p>'
            + _unfinished_warning(report["components"]))


def _unfinished_warning(components) -> str:
    """A run that failed midway leaves older artifacts as the newest ones."""
    unfinished = [f"{c.component} {c.state}" for c in components
                  if c.state not in ("COMPLETE", "CACHED")]
    if not unfinished:
        return ""
    return _p("This run did not finish (" + ", ".join(unfinished) + "): "
              "the results below are each component's newest successful "
              "output, possibly from an earlier run.", "verdict not-blessed")


def _topk_table(report: Dict) -> str:
    topk, k = report["topk"], report["topk"]["k"]
    rankers = [name for name in RANKERS if name in topk]
    rows = [[metric.replace("@k", f"@{k}")]
            + [format_metric(topk[name].get(metric)) for name in rankers]
            for metric in RATING_METRICS + RANKING_METRICS]
    headers = ["metric"] + [_RANKER_TITLES[name] for name in rankers]
    return _table(headers, rows) + _p(_baseline_note(report), "note")


_RANKER_TITLES = {"model": "model", "baseline": "previous blessed model",
                  "popularity": "popularity"}


def _baseline_note(report: Dict) -> str:
    topk = report["topk"]
    note = (f"Ranking metrics over {topk['pool']['pairs']:,} unseen (user, "
            f"item) pairs, top {topk['k']} per user; "
            + ("no rating metrics (\"-\"): the ranking objective's model "
               "predicts the probability of a rating, not a rating. "
               if _objective(report) == RANKING_OBJECTIVE else
               "rating metrics on the eval split. "))
    if "baseline" in topk:
        return note + f"Previous blessed model: {report['baseline_uri']}."
    if report["model_is_baseline"]:
        return note + ("The previous blessed model is this same model (a "
                       "re-run), so there is no separate comparison.")
    return note + "No previous blessed model."


def _blessing(report: Dict) -> str:
    decision = report["topk"].get("blessing")
    if decision is None:
        return _p("The TopKEvaluator recorded no blessing decision.")
    items = "".join(
        f'<li><span class="{"ok" if c["passed"] else "failed"}">'
        f'[{"ok" if c["passed"] else "FAILED"}]</span> {_e(c["detail"])}</li>'
        for c in decision["checks"])
    word = "BLESSED" if decision["blessed"] else "NOT BLESSED"
    push = report["push"]
    pushed = (f"Pushed to {push['destination']}." if push["pushed"] else
              f"Not pushed in this run. Served model: "
              f"{push['served'] or 'none'}.")
    tfma = {True: "blessed", False: "not blessed",
            None: "no decision"}[report["tfma_blessed"]]
    return (_p(f"TopKEvaluator: {word} (the Pusher's gate). Its checks:")
            + f"<ul>{items}</ul>"
            + _p(f"TFMA Evaluator: {tfma}.") + _p(pushed))


def _tfma_overall_table(metrics: Dict[str, float],
                        objective: str = RATING_OBJECTIVE) -> str:
    order = VIEWS[objective].tfma_order
    names = [n for n in order if n in metrics] + sorted(
        set(metrics) - set(order))
    rows = [[name, f"{metrics[name]:,.0f}" if name == "example_count"
             else format_metric(metrics[name])] for name in names]
    return _table(["metric (overall slice)", "value"], rows)


def _slice_table(report: Dict) -> str:
    if not report["slices"]:
        return _p("TFMA reported no genre slices.")
    view = VIEWS[_objective(report)]
    columns = [column for column, _ in view.slice_columns]
    overall = report["tfma_overall"].get(dict(view.slice_columns)[
        view.headline])
    rows = [[row["slice"], f"{row['example_count']:,}"]
            + [format_metric(row.get(column)) for column in columns]
            + ["-" if overall is None or row.get(view.headline) is None
               else f"{row[view.headline] - overall:+.4f}"]
            for row in report["slices"]]
    note = ("An example counts in the slice of each of its genres; most "
            "examples first.")
    if _objective(report) == RANKING_OBJECTIVE:
        note += (" A slice whose eval pairs are all rated or all sampled has "
                 "no AUC (\"-\"; TFMA reports 0).")
    return (_table(["genre", "example_count", *columns,
                    f"{view.headline} \u2212 overall"], rows)
            + _p(note, "note"))


def _component_table(report: Dict) -> str:
    rows = [[c.component, c.state, f"{c.seconds:,.1f}"]
            for c in report["components"]]
    return _table(["component", "state", "seconds"], rows)


def _artifact_list(report: Dict) -> str:
    entries = [("Trainer model", report["model_uri"]),
               ("Trainer model_run (TensorBoard)", report["model_run_uri"]),
               ("TFMA evaluation (tfma.load_eval_result)", report["tfma_uri"]),
               ("TopKEvaluator evaluation", report["topk_uri"])]
    if report.get("sampled_uri"):
        entries.append(("NegativeSampler examples (TFMA's eval split)",
                        report["sampled_uri"]))
    items = "".join(f"<li>{_e(name)}: <code>{_e(uri)}</code></li>"
                    for name, uri in entries)
    return f"<ul>{items}</ul>"


def _figure(caption: str, png: bytes) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" '
            f'alt="{_e(caption)}"><figcaption>{_e(caption)}</figcaption>'
            f"</figure>")


def _grid(*cells: str) -> str:
    return '<div class="grid">' + "".join(cells) + "</div>"


def _section(title: str, body: str) -> str:
    return f"<section><h2>{_e(title)}</h2>\n{body}</section>"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(str(cell))}</td>"
                                    for cell in row) + "</tr>"
                   for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _p(text: str, css: str = "") -> str:
    attribute = f' class="{css}"' if css else ""
    return f"<p{attribute}>{_e(text)}</p>"


def _e(text: str) -> str:
    return html.escape(str(text), quote=True)


# ---------------------------------------------------------------------- CLI

def write_report(output_root: str, pipeline_name: str, out: str) -> str:
    """Gathers, draws and renders the report into `out`; returns its path."""
    report = gather_report(output_root, pipeline_name)
    page = render_html(report, make_figures(report))
    out = os.path.abspath(out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w", encoding="utf-8") as handle:
        handle.write(page)
    return out


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--output-root", default=configs.DEFAULT_OUTPUT_ROOT,
                        help="the local runner's --output-root")
    parser.add_argument("--pipeline-name", default=configs.PIPELINE_NAME)
    parser.add_argument("--out", default="report.html",
                        help="the HTML file to write")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    # TFMA's loader logs TensorFlow deprecation warnings nobody can act on.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    try:
        path = write_report(args.output_root, args.pipeline_name, args.out)
    except ReportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"report: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
