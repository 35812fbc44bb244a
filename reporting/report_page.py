"""The report's HTML page: one self-contained file (inline CSS, figures as
PNG data URIs, no script), every piece of text escaped."""
import base64
import html
from typing import Dict, Optional, Sequence, Tuple

from recommender.beyond_accuracy import METRIC_NAMES as BEYOND_METRICS
from reporting.report_data import MIN_SLICE_EXAMPLES, objective_of
from runtime.metadata_report import (TFMA_DIFF, below_popularity,
                                     meaningful_tfma_metrics)
from trainer_module import objectives
from movielens_features import RATING_OBJECTIVE

# "ease": EASE alone, in an evaluation made with ease_l2 > 0.
RANKERS = ("model", "baseline", "popularity", "ease")
RATING_METRICS = ("rmse", "mae", "rsquared", "exp_var")
RANKING_METRICS = ("precision@k", "recall@k", "ndcg@k", "map", "map@k")

_CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222;
       max-width: 1240px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 24px 0 8px; border-bottom: 1px solid #ddd; }
.meta { color: #555; margin: 0 0 12px; }
.verdict { padding: 8px 12px; border-radius: 4px; font-weight: 600; }
.blessed { background: #e3f4e3; border-left: 6px solid #2e7d32; }
.not-blessed { background: #fbe4e4; border-left: 6px solid #c62828; }
.unchanged { background: #e8eef6; border-left: 6px solid #4a6fa5; }
.warning { background: #fff4d6; border-left: 6px solid #e0a800; }
tr.few td { color: #888; }
h3 { font-size: 15px; margin: 14px 0 4px; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 8px 24px;
        align-items: start; }
.row { display: flex; flex-wrap: wrap; gap: 8px 24px;
       align-items: flex-start; }
.row > section { flex: 0 1 auto; max-width: 100%; }
.row > section + section { flex: 1 1 300px; }
table { border-collapse: collapse; margin: 4px 0; }
th, td { padding: 2px 10px; border-bottom: 1px solid #eee; text-align: right; }
th { background: #f4f4f4; white-space: nowrap; }
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
    view = _view(report)
    # TFMA judged sampled pairs (ranking) or the eval ratings (rating).
    sampled = "eval_pairs" in report
    body = "\n".join([
        _header(report),
        _grid(_section("Components of this run", _component_table(report)),
              _section("Blessing and push", _blessing(report))),
        _grid(_section("Model quality (TopKEvaluator)", _topk_table(report)),
              _section("TFMA (Evaluator) on the eval split",
                       _tfma_overall_table(report["tfma_overall"],
                                           objective_of(report),
                                           _has_baseline(report)))),
        _beyond_accuracy_section(report["topk"]),
        _section("Ranking against k", curves),
        _grid(_section("Predicted probability: rated vs sampled pairs"
                       if sampled else "Predicted vs true ratings", ratings),
              _section("Training loss", loss)),
        # Side by side when both fit, the figure at full size, else the
        # table wraps below: the figure's labels stay >= 10 px.
        _row(_section(f"{view.headline.upper()} per genre",
                      slices, _png_width(figures[3][1])),
             _section("TFMA per genre slice", _slice_table(report))),
        _section("Artifacts", _artifact_list(report)),
    ])
    title = _e(f"{report['pipeline']} run {report['run_id']}")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{title}</title><style>{_CSS}</style></head>\n"
            f"<body>\n{body}\n</body></html>\n")


def _view(report: Dict) -> objectives.ReportView:
    return objectives.get(objective_of(report)).report


def _header(report: Dict) -> str:
    css, verdict = _verdict(report)
    if "eval_pairs" in report:
        labels = report["eval_pairs"]["label"]
        evaluated = (f"{len(labels):,} eval pairs ({int(labels.sum()):,} "
                     f"rated, {int((labels == 0).sum()):,} sampled "
                     f"negatives)")
    else:
        evaluated = f"{len(report['eval_ratings']['true']):,} eval ratings"
    pool = report["topk"]["pool"]
    meta = (f"run {report['run_id']} \u00b7 started "
            f"{report['started']:%Y-%m-%d %H:%M:%S} UTC \u00b7 "
            f"objective: {_view(report).title} \u00b7 "
            f"{_component_time(report['components'])} \u00b7 data: "
            f"{pool['users']:,} users \u00d7 {pool['items']:,} items, "
            f"{pool['pairs']:,} unseen pairs ranked, {evaluated}")
    return (f"<h1>{_e(report['pipeline'])}</h1>\n"
            f'<p class="meta">{_e(meta)}</p>\n'
            f'<p class="verdict {css}">{_e(verdict)}</p>'
            + "".join(_p("Warning: " + text, "verdict warning")
                      for text in _popularity_warnings(report))
            + _unfinished_warning(report["components"]))


def _verdict(report: Dict) -> Tuple[str, str]:
    """(css class, text) of the banner: a cached re-run is neither a
    blessing nor a refusal, it leaves the served model in place."""
    blessed = report["topk"].get("blessing", {}).get("blessed", False)
    push = report["push"]
    served = _served_text(report)
    if report.get("cached_rerun"):
        decided = ("" if blessed else "; its model was not blessed then "
                   "(checks below)")
        return "unchanged", (f"UNCHANGED \u2014 cached re-run: nothing was "
                             f"trained, judged or pushed anew{decided}; "
                             f"serving {served}")
    if push["pushed"] and push.get("already_served"):
        outcome = f"already served, nothing copied; serving {served}"
    elif push["pushed"]:
        outcome = f"pushed to {push['destination']}"
    else:
        outcome = f"not pushed; the served model is still {served}"
    return (("blessed" if blessed else "not-blessed"),
            ("BLESSED" if blessed else "NOT BLESSED") + " \u2014 " + outcome)


def _served_text(report: Dict) -> str:
    """The served model in a few words: version, folder, when pushed."""
    standing = report.get("served")
    if not standing:
        return report["push"].get("served") or "none"
    return standing["model"].describe()


def _popularity_warnings(report: Dict):
    """The run's model, and the served one when it is another model."""
    found = [below_popularity(report["topk"])]
    standing = report.get("served")
    if (standing and standing["topk"] is not None
            and standing["model"].topk_uri != report.get("topk_uri")):
        found.append(below_popularity(standing["topk"], "the served model"))
    return [text for text in found if text]


def _component_time(components) -> str:
    """Seconds this run spent, and those its cache hits saved."""
    spent = sum(c.seconds for c in components)
    reused = sum(c.cached_from_seconds or 0.0 for c in components
                 if c.state == "CACHED")
    text = f"{spent:,.1f} s of component time"
    if reused:
        text += f" ({reused:,.1f} s of earlier work reused from the cache)"
    return text


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
                  "popularity": "popularity", "ease": "EASE"}


def _baseline_note(report: Dict) -> str:
    topk = report["topk"]
    note = (f"Ranking metrics over {topk['pool']['pairs']:,} unseen (user, "
            f"item) pairs, top {topk['k']} per user; "
            + ("rating metrics on the eval split. "
               if objectives.get(objective_of(report)).scores_are_ratings
               else "no rating metrics (\"-\"): the ranking objective's "
                    "model predicts the probability of a rating, not a "
                    "rating. ")
            + _ease_note(topk))
    if "baseline" in topk:
        return note + (f"Baseline (the model served before): "
                       f"{report['baseline_uri']}.")
    if report["model_is_baseline"]:
        return note + ("The baseline is this same model (Kubeflow v2's "
                       "resolver), so there is no separate comparison.")
    return note + "No baseline: no model of this objective served before."


def _ease_note(topk: Dict) -> str:
    if "ease" not in topk:
        return ""
    l2 = topk.get("ease_l2")
    return ("EASE: the item-item ridge regression of Steck (2019) alone, "
            "fitted on the train split"
            + (f" with l2 {l2:g}" if l2 is not None else "")
            + ", ranking the same pool: what the model adds to it; not part "
              "of the blessing. ")


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
    if report.get("cached_rerun"):
        pushed = ("Nothing pushed in this run: the Pusher's result came "
                  "from the cache.")
    elif push["pushed"]:
        pushed = f"Pushed to {push['destination']}."
    else:
        pushed = "Not pushed in this run."
    tfma = {True: "blessed", False: "not blessed",
            None: "no decision"}[report["tfma_blessed"]]
    return (_p(f"TopKEvaluator: {word} (the Pusher's gate). Its checks:")
            + f"<ul>{items}</ul>"
            + _p(f"TFMA Evaluator: {tfma}.") + _p(pushed)
            + "<h3>Served model</h3>" + _served_table(report))


def _served_table(report: Dict) -> str:
    """Which model is served, since when, and how good it was judged."""
    standing = report.get("served")
    if not standing:
        return _p("No model is served yet.")
    model = standing["model"]
    rows = [["version", model.version], ["folder", model.destination],
            ["pushed", f"{model.pushed_at:%Y-%m-%d %H:%M:%S} UTC by run "
                       f"{model.run_id}"]]
    if model.objective and model.objective != objective_of(report):
        rows.append(["objective", model.objective])
    tfma = standing["tfma_overall"] or {}
    view = objectives.get(model.objective or objective_of(report)).report
    for column, name in view.slice_columns[:1]:
        if name in tfma:
            rows.append([f"TFMA {column}", format_metric(tfma[name])])
    topk = standing["topk"]
    if topk:
        k = topk["k"]
        for metric in ("ndcg@k", "precision@k"):
            row = [metric.replace("@k", f"@{k}"),
                   format_metric(topk["model"].get(metric))]
            if metric in topk.get("popularity", {}):
                row[1] += (f" (popularity "
                           f"{format_metric(topk['popularity'][metric])})")
            rows.append(row)
    return _table(["served model", ""], rows)


def _tfma_overall_table(metrics: Dict[str, float],
                        objective: str = RATING_OBJECTIVE,
                        has_baseline: bool = False) -> str:
    metrics = meaningful_tfma_metrics(metrics, has_baseline)
    order = objectives.get(objective).report.tfma_order
    names = [n for n in order if n in metrics] + sorted(
        set(metrics) - set(order))
    rows = [[name, f"{metrics[name]:,.0f}" if name == "example_count"
             else format_metric(metrics[name])] for name in names]
    note = (_p("*_diff: this model minus the baseline (the model served "
               "before).", "note")
            if any(name.endswith(TFMA_DIFF) for name in metrics) else "")
    return _table(["metric (overall slice)", "value"], rows) + note


def _has_baseline(report: Dict) -> bool:
    """Whether the evaluators compared the model with another one."""
    return (report.get("baseline_uri") is not None
            and not report.get("model_is_baseline"))


def _beyond_accuracy_section(topk: Dict) -> str:
    """The top-k lists' beyond-accuracy metrics, when the evaluation has
    them (evaluations made before they existed do not)."""
    found = topk.get("beyond_accuracy")
    if not found:
        return ""
    rankers = [name for name in RANKERS if name in found] + sorted(
        set(found) - set(RANKERS))
    names = [name for name in BEYOND_METRICS
             if any(name in found[r] for r in rankers)]
    names += sorted({name for r in rankers for name in found[r]}
                    - set(names))
    rows = [[name] + [format_metric(found[r].get(name)) for r in rankers]
            for name in names]
    headers = ["metric"] + [_RANKER_TITLES.get(r, r) for r in rankers]
    return _section(
        f"Beyond accuracy: the top-{topk['k']} lists (TopKEvaluator)",
        _table(headers, rows) + _p(
            "Catalog coverage: share of the train items recommended to "
            "anyone; distributional coverage: entropy (bits) of how often "
            "each item is recommended; novelty: mean self-information "
            "(bits) of the recommended items; diversity: 1 \u2212 mean "
            "co-occurrence similarity within a list; serendipity: 1 \u2212 "
            "mean similarity to the user's own train items.", "note"))


def _slice_table(report: Dict) -> str:
    if not report["slices"]:
        return _p("TFMA reported no genre slices.")
    view = _view(report)
    columns = [column for column, _ in view.slice_columns]
    overall = report["tfma_overall"].get(dict(view.slice_columns)[
        view.headline])
    rows = [[row["slice"], f"{row['example_count']:,}"]
            + [format_metric(row.get(column)) for column in columns]
            + ["-" if overall is None or row.get(view.headline) is None
               else f"{row[view.headline] - overall:+.4f}"]
            for row in report["slices"]]
    few = ["few" if row["example_count"] < MIN_SLICE_EXAMPLES else ""
           for row in report["slices"]]
    note = ("An example counts in the slice of each of its genres; most "
            "examples first.")
    if any(few):
        note += (f" Grey rows: fewer than {MIN_SLICE_EXAMPLES} eval "
                 f"examples, too few to mean much; the figure shows them "
                 f"but they set none of its axis.")
    if "auc" in columns:
        note += (" A slice whose eval pairs are all rated or all sampled has "
                 "no AUC (\"-\"; TFMA reports 0).")
    return (_table(["genre", "example_count", *columns,
                    f"{view.headline} \u2212 overall"], rows, few)
            + _p(note, "note"))


def _component_table(report: Dict) -> str:
    rows = [[c.component, c.state, _seconds_cell(c)]
            for c in report["components"]]
    table = _table(["component", "state", "seconds"], rows)
    if any(c.state == "CACHED" for c in report["components"]):
        table += _p("CACHED: reused the outputs of an earlier run's "
                    "execution with the same inputs and code; in brackets, "
                    "the seconds that execution took.", "note")
    return table


def _seconds_cell(component) -> str:
    if component.state != "CACHED":
        return f"{component.seconds:,.1f}"
    ran = getattr(component, "cached_from_seconds", None)
    return "cached" if ran is None else f"cached ({ran:,.1f} s)"


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


def _row(*cells: str) -> str:
    """Sections side by side while they fit, else wrapped below."""
    return '<div class="row">' + "".join(cells) + "</div>"


_FIGURE_BORDERS = 2  # px: a figure's border, left and right


def _png_width(png: bytes) -> Optional[int]:
    """A PNG's width in pixels (its IHDR chunk); None if it is no PNG."""
    if len(png) < 24 or png[12:16] != b"IHDR":
        return None
    return int.from_bytes(png[16:20], "big")


def _section(title: str, body: str,
             figure_width: Optional[int] = None) -> str:
    """figure_width: the px width of the one figure in body, which the
    section takes in a row (_row) when it fits."""
    style = ("" if figure_width is None else
             f' style="flex-basis: {figure_width + _FIGURE_BORDERS}px"')
    return f"<section{style}><h2>{_e(title)}</h2>\n{body}</section>"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]],
           row_classes: Optional[Sequence[str]] = None) -> str:
    """A table; row_classes[i], when not empty, is row i's CSS class."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    classes = row_classes or [""] * len(rows)
    body = "".join(("<tr>" if not css else f'<tr class="{_e(css)}">')
                   + "".join(f"<td>{_e(str(cell))}</td>" for cell in row)
                   + "</tr>" for row, css in zip(rows, classes))
    return f"<table><tr>{head}</tr>{body}</table>"


def _p(text: str, css: str = "") -> str:
    attribute = f' class="{css}"' if css else ""
    return f"<p{attribute}>{_e(text)}</p>"


def _e(text: str) -> str:
    return html.escape(str(text), quote=True)
