"""The report's HTML page: one self-contained file (inline CSS, figures as
PNG data URIs, no script), every piece of text escaped."""
import base64
import html
from typing import Dict, Optional, Sequence, Tuple

from reporting.report_data import VIEWS, objective_of
from trainer_module.features import RANKING_OBJECTIVE, RATING_OBJECTIVE

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
    ranking = objective_of(report) == RANKING_OBJECTIVE
    body = "\n".join([
        _header(report),
        _grid(_section("Components of this run", _component_table(report)),
              _section("Blessing and push", _blessing(report))),
        _grid(_section("Model quality (TopKEvaluator)", _topk_table(report)),
              _section("TFMA (Evaluator) on the eval split",
                       _tfma_overall_table(report["tfma_overall"],
                                           objective_of(report)))),
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
    objective = objective_of(report)
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
                  "popularity": "popularity", "ease": "EASE"}


def _baseline_note(report: Dict) -> str:
    topk = report["topk"]
    note = (f"Ranking metrics over {topk['pool']['pairs']:,} unseen (user, "
            f"item) pairs, top {topk['k']} per user; "
            + ("no rating metrics (\"-\"): the ranking objective's model "
               "predicts the probability of a rating, not a rating. "
               if objective_of(report) == RANKING_OBJECTIVE else
               "rating metrics on the eval split. ")
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
    view = VIEWS[objective_of(report)]
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
    if objective_of(report) == RANKING_OBJECTIVE:
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
