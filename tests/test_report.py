"""The HTML run report on the tiny pipeline run: the numbers it shows, its
embedded figures, how a real browser renders it, and its errors."""
import base64
import copy
import html
import io
import pathlib
import re
import shutil
import subprocess

import numpy as np
import pytest
from matplotlib import image as mpimg

from components.topk_evaluator.executor import (SUMMARY_FILE,
                                                read_evaluation)
from pipeline import configs
from reporting import plots, report, report_data, report_page
from runtime import metadata_report
from movielens_features import GENRE_SLICE_KEY

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
IMG_TAG = re.compile(r"<img\b[^>]*>")
DATA_URI = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')
# matplotlib's default first two colours; the page's CSS uses neither, so
# they reach a screenshot only through the figures.
TAB_BLUE = (31 / 255, 119 / 255, 180 / 255)
TAB_ORANGE = (255 / 255, 127 / 255, 14 / 255)
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-quic", "--no-first-run",
                  "--disable-background-networking",
                  "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars",
                  "--run-all-compositor-stages-before-draw",
                  "--virtual-time-budget=5000")


@pytest.fixture(scope="module")
def page_path(tiny_pipeline_run, tmp_path_factory):
    """The report of the tiny run, written by the command-line entry point."""
    out = tmp_path_factory.mktemp("report") / "report.html"
    code = report.main(["--output-root", str(tiny_pipeline_run.output_root),
                        "--pipeline-name", tiny_pipeline_run.pipeline_name,
                        "--out", str(out)])
    assert code == 0
    return out


@pytest.fixture(scope="module")
def page(page_path) -> str:
    return page_path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def store(tiny_pipeline_run):
    return metadata_report.open_store(tiny_pipeline_run.metadata_path)


@pytest.fixture(scope="module")
def gathered(tiny_pipeline_run):
    return report.gather_report(str(tiny_pipeline_run.output_root),
                                tiny_pipeline_run.pipeline_name)


def test_page_shows_topk_metrics_as_the_evaluator_summary(page, store):
    uri = metadata_report.latest_evaluation_uri(store, "TopKEvaluator")
    metrics = read_evaluation(uri)
    # The TopKEvaluator's summary.txt, written independently of the report:
    # "metric  model  popularity" rows, the same numbers as metrics.json.
    summary = (pathlib.Path(uri) / SUMMARY_FILE).read_text().splitlines()
    assert summary[1].split() == ["metric", "model", "popularity"]
    rows = [line.split() for line in summary[2:11]]
    assert [row[0] for row in rows] == [
        "rmse", "mae", "rsquared", "exp_var", "precision@10", "recall@10",
        "ndcg@10", "map", "map@10"]
    assert rows[6][1] == f"{metrics['model']['ndcg@k']:.4f}"
    for name, model, popularity in rows:
        assert (f"<tr><td>{name}</td><td>{model}</td><td>{popularity}</td>"
                f"</tr>") in page
    # The tiny run is the store's first: nothing to compare with.
    assert "baseline" not in metrics
    assert "No baseline: no model of this objective served before." in page
    assert "previous blessed model</th>" not in page
    # The tiny run's evaluation has the curves, so the figure plots them.
    assert metrics["curves"]["model"]["k"] == list(range(1, 21))
    assert "Precision and recall at k = 1..20," in page
    pool = metrics["pool"]
    assert f"{pool['users']:,} users \u00d7 {pool['items']:,} items" in page


def test_page_shows_blessing_checks_and_push(page, store, tiny_pipeline_run):
    metrics = read_evaluation(
        metadata_report.latest_evaluation_uri(store, "TopKEvaluator"))
    assert metrics["blessing"]["blessed"] is True
    assert "TopKEvaluator: BLESSED" in page
    assert metrics["blessing"]["checks"]
    for check in metrics["blessing"]["checks"]:
        assert check["passed"]
        assert (f'<span class="ok">[ok]</span> {html.escape(check["detail"])}'
                in page)
    destination = metadata_report.latest_pushed_model(store)
    assert destination.startswith(str(tiny_pipeline_run.serving_dir))
    assert f"Pushed to {html.escape(destination)}." in page
    for step in metadata_report.component_runs(store):
        assert f"<td>{step.component}</td><td>{step.state}</td>" in page


def test_slice_table_has_a_row_per_genre_in_tfma(page, store):
    import tensorflow_model_analysis as tfma
    result = tfma.load_eval_result(
        metadata_report.latest_evaluation_uri(store))
    genres = {}
    for slice_key, metrics in result.slicing_metrics:
        if len(slice_key) == 1 and slice_key[0][0] == GENRE_SLICE_KEY:
            values = metrics[""][""]
            genres[slice_key[0][1] or report_data.NO_GENRE] = (
                int(values["example_count"]["doubleValue"]),
                values["root_mean_squared_error"]["doubleValue"],
                values["mean_absolute_error"]["doubleValue"])
    assert len(genres) >= 5
    positions = []
    for genre, (count, rmse, mae) in genres.items():
        # A slice too small to mean much is greyed, not left out.
        row = (("<tr>" if count >= report_data.MIN_SLICE_EXAMPLES else
                '<tr class="few">')
               + f"<td>{html.escape(genre)}</td><td>{count:,}</td>"
               f"<td>{rmse:.4f}</td><td>{mae:.4f}</td>")
        assert page.count(row) == 1, row
        positions.append((page.index(row), count))
    # Most examples first.
    counts = [count for _, count in sorted(positions)]
    assert counts == sorted(counts, reverse=True)


def test_four_figures_are_embedded_pngs_and_nothing_is_fetched(page):
    tags = IMG_TAG.findall(page)
    assert len(tags) == 4
    for tag in tags:
        match = DATA_URI.search(tag)
        assert match, tag[:80]
        png = base64.b64decode(match.group(1), validate=True)
        assert png.startswith(PNG_SIGNATURE)
        pixels = mpimg.imread(io.BytesIO(png), format="png")
        assert pixels.shape[0] > 100 and pixels.shape[1] > 100
        assert pixels[..., :3].std() > 0.05  # a drawing, not a blank canvas
    assert not re.search(r"https?://", page)
    for outside in ("<script", "<link", "@import", "url(", "<iframe"):
        assert outside not in page.lower()


def test_gathered_data_matches_the_run(gathered, store):
    ratings = gathered["eval_ratings"]
    count = metadata_report.overall_metrics(
        metadata_report.latest_evaluation_uri(store))["example_count"]
    assert len(ratings["true"]) == len(ratings["predicted"]) == count
    assert ratings["predicted"].min() >= 0.5
    assert ratings["predicted"].max() <= 5.0
    # The model's own RMSE on these rows is the one the TopKEvaluator found.
    rmse = np.sqrt(np.mean((ratings["true"] - ratings["predicted"]) ** 2))
    assert rmse == pytest.approx(gathered["topk"]["model"]["rmse"], abs=1e-4)
    train_steps = [step for step, _ in gathered["loss"]["train"]]
    assert train_steps and max(train_steps) <= 60  # --train-steps 60
    assert all(np.isfinite(loss) for _, loss in gathered["loss"]["train"])
    assert gathered["loss"]["eval"], "no eval loss in the Trainer's events"


def test_all_text_is_escaped(gathered):
    hostile = copy.deepcopy(gathered)
    hostile["pipeline"] = "<b>x</b>"
    hostile["topk"]["blessing"]["checks"][0]["detail"] = "a < b & \"c\""
    hostile["push"]["destination"] = "/srv/<i>&"
    hostile["slices"][0]["slice"] = "<td>Drama"
    page = report.render_html(hostile,
                              [("<i>caption</i>", PNG_SIGNATURE)] * 4)
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert "a &lt; b &amp; &quot;c&quot;" in page
    assert "<i>caption</i>" not in page
    assert "Pushed to /srv/&lt;i&gt;&amp;." in page
    assert "<tr><td>&lt;td&gt;Drama</td>" in page


def test_page_with_a_baseline_and_a_refusal(gathered):
    """What the tiny run cannot show: a previous blessed model to compare
    with, a failed check, no push."""
    changed = copy.deepcopy(gathered)
    topk = changed["topk"]
    topk["baseline"] = {**topk["model"], "ndcg@k": 0.5}
    changed["baseline_uri"] = "/models/previous"
    topk["blessing"] = {"blessed": False, "checks": [
        {"name": "ndcg@k vs baseline", "passed": False,
         "detail": "ndcg@k = 0.2642, baseline 0.5000, needs >= 0.4900"}]}
    changed["push"] = {"pushed": False, "destination": None,
                       "served": "/serving/1"}
    changed["served"] = None  # a store that records no push of it
    page = report.render_html(changed, [("figure", PNG_SIGNATURE)] * 4)
    assert ("<th>metric</th><th>model</th><th>previous blessed model</th>"
            "<th>popularity</th>") in page
    k = topk["k"]
    assert (f"<tr><td>ndcg@{k}</td><td>{topk['model']['ndcg@k']:.4f}</td>"
            f"<td>0.5000</td><td>{topk['popularity']['ndcg@k']:.4f}</td>"
            f"</tr>") in page
    assert "Baseline (the model served before): /models/previous." in page
    assert ('<span class="failed">[FAILED]</span> ndcg@k = 0.2642, baseline '
            '0.5000, needs &gt;= 0.4900') in page
    assert "NOT BLESSED \u2014 not pushed; the served model is still " \
           "/serving/1" in page
    assert 'class="verdict not-blessed"' in page


TAB_PURPLE = (148 / 255, 103 / 255, 189 / 255)


def _curve_pixels(figures, color):
    """Pixels of `color` in the page's first figure (the ranking curves)."""
    caption, png = figures[0]
    assert caption.startswith("Precision and recall")
    pixels = mpimg.imread(io.BytesIO(png), format="png")[..., :3]
    return int(np.all(np.abs(pixels - color) < 0.04, axis=-1).sum())


def test_page_shows_ease_beside_popularity(gathered):
    """An evaluation with the EASE ranker (ease_l2 > 0): its column after
    popularity, the note naming its L2, its curve in the figure. Without
    it (the tiny rating run) none of that."""
    assert "ease" not in gathered["topk"]
    plain_figures = report.make_figures(gathered)
    assert _curve_pixels(plain_figures, TAB_PURPLE) == 0
    plain = report.render_html(gathered, plain_figures)
    assert "EASE" not in re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "",
                                plain)

    changed = copy.deepcopy(gathered)
    topk = changed["topk"]
    topk["ease"] = {"precision@k": 0.125, "recall@k": 0.25, "ndcg@k": 0.375,
                    "map": 0.0625, "map@k": 0.5, "num_users": 3}
    topk["ease_l2"] = 300.0
    topk["curves"]["ease"] = {
        "k": topk["curves"]["model"]["k"],
        **{name: [0.1 + 0.01 * k for k in topk["curves"]["model"]["k"]]
           for name in ("precision@k", "recall@k", "ndcg@k")}}
    figures = report.make_figures(changed)
    assert _curve_pixels(figures, TAB_PURPLE) > 100
    page = report.render_html(changed, figures)
    assert ("<th>metric</th><th>model</th><th>popularity</th><th>EASE</th>"
            in page)
    k = topk["k"]
    assert (f"<tr><td>ndcg@{k}</td><td>{topk['model']['ndcg@k']:.4f}</td>"
            f"<td>{topk['popularity']['ndcg@k']:.4f}</td><td>0.3750</td>"
            f"</tr>") in page
    assert (f"<tr><td>rmse</td><td>{topk['model']['rmse']:.4f}</td>"
            f"<td>-</td><td>-</td></tr>") in page
    assert ("EASE: the item-item ridge regression of Steck (2019) alone, "
            "fitted on the train split with l2 300, ranking the same pool: "
            "what the model adds to it; not part of the blessing.") in page


def test_chromium_renders_the_report(page_path, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.fail("chromium is not installed; install it with "
                    "`apt-get update && apt-get install -y chromium` "
                    "(.ci/run does)")
    flags = [browser, *CHROMIUM_FLAGS,
             f"--user-data-dir={tmp_path / 'profile'}"]
    url = page_path.as_uri()
    screenshot = tmp_path / "report.png"
    shot = subprocess.run(
        [*flags, f"--screenshot={screenshot}", "--window-size=1280,2400", url],
        capture_output=True, text=True, timeout=120)
    assert shot.returncode == 0, shot.stderr[-2000:]
    pixels = mpimg.imread(str(screenshot))[..., :3]
    assert pixels.shape[:2] == (2400, 1280)
    assert pixels.std() > 0.05, "the screenshot is blank"
    # The figures' colours, drawn by the browser from the data URIs.
    for color in (TAB_BLUE, TAB_ORANGE):
        near = np.all(np.abs(pixels - color) < 0.04, axis=-1)
        assert near.sum() > 200, f"no figure pixels of colour {color}"

    dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True,
                         text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    tags = IMG_TAG.findall(dom.stdout)
    assert len(tags) == 4
    assert all(DATA_URI.search(tag) for tag in tags)
    assert_slice_labels_readable(flags, page_path, tmp_path)


# Writes, once the page has loaded, each figure's width on the page and in
# its PNG into the DOM that --dump-dom prints (a copy of the page: the
# report itself has no script).
_MEASURE = ('<script>addEventListener("load", () => document.body'
            '.setAttribute("data-widths", Array.from(document.images, i => '
            'i.getBoundingClientRect().width + "/" + i.naturalWidth)'
            '.join(" ")));</script>')


def assert_slice_labels_readable(flags, page_path, tmp_path):
    """The per-genre figure's labels are at least 10 px high as Chromium
    shows the page in a 1280 px window (the figure is scaled to fit its
    column)."""
    probe = tmp_path / "probe.html"
    probe.write_text(page_path.read_text(encoding="utf-8").replace(
        "</body>", _MEASURE + "</body>"), encoding="utf-8")
    dom = subprocess.run([*flags, "--window-size=1280,2400", "--dump-dom",
                          probe.as_uri()], capture_output=True, text=True,
                         timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    widths = re.search(r'data-widths="([^"]+)"', dom.stdout).group(1)
    shown, drawn = map(float, widths.split()[3].split("/"))  # 4th figure
    assert drawn > 0
    label_px = plots.SLICE_FONT_PT * plots.FIGURE_DPI / 72 * shown / drawn
    assert label_px >= 10, (shown, drawn, label_px)


@pytest.mark.parametrize("make_store", [False, True],
                         ids=["no-store", "store-without-run"])
def test_missing_run_is_a_clear_error(tmp_path, capsys, make_store):
    metadata_path = configs.LocalPaths(str(tmp_path), "nothing").metadata_path
    if make_store:
        (tmp_path / "metadata" / "nothing").mkdir(parents=True)
        metadata_report.open_store(metadata_path)
    out = tmp_path / "report.html"
    code = report.main(["--output-root", str(tmp_path), "--pipeline-name",
                        "nothing", "--out", str(out)])
    assert code == 2
    error = capsys.readouterr().err
    expected = ("the metadata store holds no pipeline run" if make_store
                else f"error: no metadata store at {metadata_path}")
    assert expected in error
    assert "Traceback" not in error
    assert not out.exists()
    assert (tmp_path / "metadata" / "nothing" / "metadata.db").exists() \
        == make_store  # the report never creates a store




# ------------------------------------------ the ranking objective's report


@pytest.fixture(scope="module")
def ranking_gathered(tiny_ranking_run):
    return report.gather_report(str(tiny_ranking_run.output_root),
                                tiny_ranking_run.pipeline_name)


@pytest.fixture(scope="module")
def ranking_page_path(ranking_gathered, tmp_path_factory):
    # The steps of write_report, on the dict the other tests check too.
    out = tmp_path_factory.mktemp("ranking_report") / "report.html"
    out.write_text(report.render_html(
        ranking_gathered, report.make_figures(ranking_gathered)),
        encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def ranking_page(ranking_page_path) -> str:
    return ranking_page_path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def ranking_store(tiny_ranking_run):
    return metadata_report.open_store(tiny_ranking_run.metadata_path)


def test_objective_comes_from_the_trainer_custom_config(
        store, ranking_store, tiny_ranking_run):
    from reporting import run_info
    assert run_info.latest_trainer_objective(store) == "rating"
    assert run_info.latest_trainer_objective(ranking_store) == "ranking"
    pushed = metadata_report.latest_pushed_model(ranking_store)
    assert run_info.model_objective(ranking_store, pushed) == "ranking"
    trainer_model = metadata_report.latest_output(ranking_store, "Trainer",
                                                  "model").uri
    assert run_info.model_objective(
        ranking_store, trainer_model + "/Format-Serving") == "ranking"


@pytest.mark.parametrize("config, expected", [
    (None, None), ('{"code_fingerprint": "x"}', "rating"),
    ('{"hparams": {"epochs": 3}}', "rating"),
    ('{"hparams": {"objective": "ranking"}}', "ranking")])
def test_objective_of_a_trainer_execution(config, expected):
    from ml_metadata.proto import metadata_store_pb2
    from reporting import run_info
    execution = metadata_store_pb2.Execution()
    if config is not None:
        execution.custom_properties["custom_config"].string_value = config
    assert run_info.execution_objective(execution) == expected


def test_ranking_page_names_the_objective_and_tfma_metrics(
        ranking_page, ranking_gathered, ranking_store):
    import tensorflow_model_analysis as tfma
    assert ranking_gathered["objective"] == "ranking"
    assert "objective: ranking (classifier" in ranking_page
    uri = metadata_report.latest_evaluation_uri(ranking_store)
    overall = metadata_report.overall_metrics(uri)
    assert {"auc", "binary_accuracy", "example_count"} <= set(overall)
    assert "root_mean_squared_error" not in overall
    for name in ("auc", "binary_accuracy", "mean_label", "mean_prediction"):
        assert (f"<tr><td>{name}</td><td>{overall[name]:.4f}</td></tr>"
                in ranking_page)
    # Per genre: TFMA's own AUC, "-" where a slice has one class only.
    rows = 0
    for slice_key, metrics in tfma.load_eval_result(uri).slicing_metrics:
        if len(slice_key) != 1 or slice_key[0][0] != GENRE_SLICE_KEY:
            continue
        values = {n: v["doubleValue"] for n, v in metrics[""][""].items()}
        one_class = values["mean_label"] in (0.0, 1.0)
        auc = "-" if one_class else f"{values['auc']:.4f}"
        count = int(values["example_count"])
        row = (("<tr>" if count >= report_data.MIN_SLICE_EXAMPLES else
                '<tr class="few">')
               + f"<td>{html.escape(slice_key[0][1] or report_data.NO_GENRE)}"
               f"</td><td>{count:,}</td><td>{auc}"
               f"</td><td>{values['binary_accuracy']:.4f}</td>")
        assert ranking_page.count(row) == 1, row
        rows += 1
    assert rows >= 5
    assert "<th>auc \u2212 overall</th>" in ranking_page
    assert "<h2>AUC per genre</h2>" in ranking_page
    # The text only: an embedded PNG's base64 may spell "RMSE" by chance.
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", ranking_page)
    assert "RMSE" not in text and "rmse \u2212" not in text


def test_ranking_page_has_no_rating_metrics_or_histogram(
        ranking_page, ranking_gathered, ranking_store):
    topk = read_evaluation(metadata_report.latest_evaluation_uri(
        ranking_store, "TopKEvaluator"))
    assert "rmse" not in topk["model"]
    # One "-" per ranker: model, popularity and EASE when the run has it.
    shown = [name for name in report_page.RANKERS if name in topk]
    assert shown[0] == "model" and "popularity" in shown
    for name in report_page.RATING_METRICS:
        assert (f"<tr><td>{name}</td>" + "<td>-</td>" * len(shown)
                + "</tr>") in ranking_page
    k = topk["k"]
    assert (f"<tr><td>ndcg@{k}</td><td>{topk['model']['ndcg@k']:.4f}</td>"
            in ranking_page)
    assert "eval_ratings" not in ranking_gathered
    assert "Predicted vs true ratings" not in ranking_page
    assert "<h2>Predicted probability: rated vs sampled pairs</h2>" \
        in ranking_page


def test_ranking_eval_pairs_are_what_tfma_evaluated(ranking_gathered,
                                                    ranking_store):
    overall = metadata_report.overall_metrics(
        metadata_report.latest_evaluation_uri(ranking_store))
    pairs = ranking_gathered["eval_pairs"]
    assert len(pairs["label"]) == overall["example_count"]
    assert pairs["label"].mean() == pytest.approx(overall["mean_label"])
    probability = pairs["probability"]
    assert probability.min() >= 0 and probability.max() <= 1
    np.testing.assert_allclose(probability, 1 / (1 + np.exp(-pairs["score"])),
                               atol=1e-5)
    assert probability.mean() == pytest.approx(overall["mean_prediction"],
                                               abs=1e-4)
    # The exact AUC of these pairs; TFMA's is bucketed (10,000 thresholds).
    positives = probability[pairs["label"] == 1]
    negatives = probability[pairs["label"] == 0]
    wins = (positives[:, None] > negatives[None, :]).mean() + 0.5 * (
        positives[:, None] == negatives[None, :]).mean()
    assert wins == pytest.approx(overall["auc"], abs=2e-3)
    n_rated = int(pairs["label"].sum())
    assert n_rated and n_rated < len(pairs["label"])
    assert ranking_gathered["loss"]["train"]


def test_ranking_figures_are_valid_pngs(ranking_page):
    tags = IMG_TAG.findall(ranking_page)
    assert len(tags) == 4
    for tag in tags:
        png = base64.b64decode(DATA_URI.search(tag).group(1), validate=True)
        assert png.startswith(PNG_SIGNATURE)
        pixels = mpimg.imread(io.BytesIO(png), format="png")
        assert pixels.shape[0] > 100 and pixels.shape[1] > 100
        assert pixels[..., :3].std() > 0.05
    assert not re.search(r"https?://", ranking_page)
    assert "<script" not in ranking_page.lower()


def test_chromium_renders_the_ranking_report(ranking_page_path, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.fail("chromium is not installed; install it with "
                    "`apt-get update && apt-get install -y chromium` "
                    "(.ci/run does)")
    flags = [browser, *CHROMIUM_FLAGS,
             f"--user-data-dir={tmp_path / 'profile'}"]
    screenshot = tmp_path / "report.png"
    shot = subprocess.run(
        [*flags, f"--screenshot={screenshot}", "--window-size=1280,2400",
         ranking_page_path.as_uri()], capture_output=True, text=True,
        timeout=120)
    assert shot.returncode == 0, shot.stderr[-2000:]
    pixels = mpimg.imread(str(screenshot))[..., :3]
    assert pixels.shape[:2] == (2400, 1280)
    # Blue (rated pairs, the points) and orange (sampled pairs,
    # popularity) come only from the figures.
    for color in (TAB_BLUE, TAB_ORANGE):
        near = np.all(np.abs(pixels - color) < 0.04, axis=-1)
        assert near.sum() > 200, f"no figure pixels of colour {color}"
    assert_slice_labels_readable(flags, ranking_page_path, tmp_path)


# ------------------- cached re-runs, the served model, warnings, small slices


def _run_of(store, execution_id: int) -> str:
    [run] = [context.name for context in
             store.get_contexts_by_execution(execution_id)
             if context.type == "pipeline_run"]
    return run


@pytest.fixture(scope="module")
def history_pages(pipeline_history):
    """The report of pipeline_history's cached re-run and of its strict run
    (a new model, not blessed), each as the store was when it ended."""
    run = pipeline_history["run"]
    history_store = metadata_report.open_store(run.metadata_path)
    found = {"store": history_store}
    for name in ("first", "cached", "strict"):
        found[f"{name}_run"] = _run_of(
            history_store, pipeline_history[f"{name}_steps"][0].execution_id)
    for name in ("cached", "strict"):
        gathered_run = report.gather_report(str(run.output_root),
                                            run.pipeline_name,
                                            found[f"{name}_run"])
        found[name] = gathered_run
        found[f"{name}_page"] = report.render_html(
            gathered_run, [("figure", PNG_SIGNATURE)] * 4)
    return found


def test_cached_rerun_page_shows_the_served_model_not_a_refusal(
        history_pages, pipeline_history):
    page, gathered_run = history_pages["cached_page"], history_pages["cached"]
    assert gathered_run["run_id"] == history_pages["cached_run"]
    assert gathered_run["cached_rerun"] is True
    [version] = pipeline_history["first_versions"]  # model X, pushed first
    destination = str(pipeline_history["serving_dir"] / version)
    assert "NOT BLESSED" not in page
    assert 'class="verdict not-blessed"' not in page
    assert ('<p class="verdict unchanged">UNCHANGED \u2014 cached re-run: '
            'nothing was trained, judged or pushed anew; serving '
            f'{html.escape(destination)} (version {version}, pushed ') in page
    assert f"UTC by run {history_pages['first_run']})</p>" in page
    served = gathered_run["served"]
    assert served["model"].run_id == history_pages["first_run"]
    assert served["model"].model_uri == gathered_run["model_uri"]
    k = served["topk"]["k"]
    assert (f"<tr><td>ndcg@{k}</td><td>"
            f"{served['topk']['model']['ndcg@k']:.4f} (popularity "
            f"{served['topk']['popularity']['ndcg@k']:.4f})</td></tr>") in page
    rmse = served["tfma_overall"]["root_mean_squared_error"]
    assert f"<tr><td>TFMA rmse</td><td>{rmse:.4f}</td></tr>" in page
    # Each cache hit with the time of the execution it reused: the first
    # run's, or the crashed run's for what the first run reused too.
    ran = {s.component: s.cached_from_seconds if s.state == "CACHED"
           else s.seconds for s in pipeline_history["first_steps"]}
    hits = [s for s in gathered_run["components"] if s.state == "CACHED"]
    assert {s.component for s in hits} >= {"Transform", "Trainer",
                                           "TopKEvaluator", "Pusher"}
    for step in hits:
        assert step.cached_from_seconds is not None
        assert step.cached_from_seconds == ran[step.component]
        assert (f"<td>{step.component}</td><td>CACHED</td><td>cached "
                f"({ran[step.component]:,.1f} s)</td>") in page


def test_new_model_not_blessed_still_says_so_with_its_failed_check(
        history_pages, pipeline_history):
    page, gathered_run = history_pages["strict_page"], history_pages["strict"]
    assert gathered_run["cached_rerun"] is False
    [version] = pipeline_history["first_versions"]
    destination = str(pipeline_history["serving_dir"] / version)
    assert ('<p class="verdict not-blessed">NOT BLESSED \u2014 not pushed; '
            f'the served model is still {html.escape(destination)} (version '
            f'{version}, pushed ') in page
    assert ('<span class="failed">[FAILED]</span> ndcg@k = '
            in page)  # --min-ndcg 1.0
    # Model Y against X: TFMA's real deltas stay, its zero one goes.
    tfma = gathered_run["tfma_overall"]
    assert tfma["example_count_diff"] == 0
    assert "example_count_diff" not in page
    assert tfma["root_mean_squared_error_diff"] != 0
    assert (f"<tr><td>root_mean_squared_error_diff</td><td>"
            f"{tfma['root_mean_squared_error_diff']:.4f}</td></tr>") in page


def test_tfma_table_leaves_out_zero_and_baseless_diff_rows(gathered):
    changed = copy.deepcopy(gathered)
    changed["tfma_overall"].update({"example_count_diff": 0.0,
                                    "mean_absolute_error_diff": 0.0,
                                    "root_mean_squared_error_diff": -0.0125})
    changed["baseline_uri"] = "/models/previous"
    page = report.render_html(changed, [("figure", PNG_SIGNATURE)] * 4)
    assert "<tr><td>root_mean_squared_error_diff</td><td>-0.0125</td>" in page
    assert "example_count_diff" not in page
    assert "mean_absolute_error_diff" not in page
    # The model compared with itself (Kubeflow v2), or with nothing.
    changed["model_is_baseline"] = True
    page = report.render_html(changed, [("figure", PNG_SIGNATURE)] * 4)
    assert "_diff" not in page
    assert metadata_report.meaningful_tfma_metrics(
        {"auc": 0.7, "auc_diff": 0.01, "example_count_diff": 0.0},
        has_baseline=False) == {"auc": 0.7}


def test_a_tiny_slice_sets_no_axis_limit():
    slices = [{"slice": "Drama", "example_count": 140, "rmse": 0.95},
              {"slice": "Comedy", "example_count": 20, "rmse": 1.00},
              {"slice": "unknown", "example_count": 1, "rmse": 2.17}]
    axes = plots.slice_metric_figure(slices, "rmse", "RMSE", 0.97).axes[0]
    # 0.95..1.00 and the overall 0.97, padded by max(15 % of 0.05, 0.01).
    assert axes.get_xlim() == pytest.approx((0.94, 1.01))
    # The tiny slice is still drawn: at the edge, its value written there.
    assert [text.get_text() for text in axes.texts] == ["2.17"]
    assert [label.get_text() for label in axes.get_yticklabels()] == [
        "Drama (n=140)", "Comedy (n=20)", "unknown (n=1)"]
    assert all(label.get_fontsize() >= plots.SLICE_FONT_PT
               for label in axes.get_yticklabels())
    # With 20 examples (MIN_SLICE_EXAMPLES) it counts: 2.17 + 0.15 * 1.22.
    slices[2]["example_count"] = report_data.MIN_SLICE_EXAMPLES
    axes = plots.slice_metric_figure(slices, "rmse", "RMSE", 0.97).axes[0]
    assert axes.get_xlim() == pytest.approx((0.95 - 0.183, 2.17 + 0.183))
    assert len(axes.texts) == 0


def test_auc_axis_fits_the_data_not_zero():
    slices = [{"slice": "Drama", "example_count": 50, "auc": 0.70},
              {"slice": "War", "example_count": 40, "auc": 0.80},
              {"slice": "Western", "example_count": 30, "auc": None},
              {"slice": "unknown", "example_count": 3, "auc": 0.20}]
    axes = plots.slice_metric_figure(slices, "auc", "AUC", 0.72).axes[0]
    assert axes.get_xlim() == pytest.approx((0.685, 0.815))
    assert axes.get_yticklabels()[2].get_text() == "Western (n=30), no AUC"


def _with_topk(gathered_report, model, popularity):
    changed = copy.deepcopy(gathered_report)
    changed["topk"]["model"].update(model)
    changed["topk"]["popularity"].update(popularity)
    changed["served"] = None
    return report.render_html(changed, [("figure", PNG_SIGNATURE)] * 4)


def test_below_popularity_warning_exactly_when_it_ranks_below(gathered):
    k = gathered["topk"]["k"]
    below = _with_topk(gathered, {"ndcg@k": 0.05, "precision@k": 0.04},
                       {"ndcg@k": 0.30, "precision@k": 0.02})
    assert below.count("Warning: ") == 1
    assert (f'<p class="verdict warning">Warning: the model ranks below '
            f"popularity: ndcg@{k} 0.0500 vs popularity&#x27;s 0.3000 (6.0x "
            f"lower); recommending the most rated movies would do better"
            f"</p>") in below
    above = _with_topk(gathered, {"ndcg@k": 0.30, "precision@k": 0.04},
                       {"ndcg@k": 0.30, "precision@k": 0.02})
    assert "Warning: " not in above and "ranks below popularity" not in above
    assert metadata_report.below_popularity(
        {"k": 5, "model": {"ndcg@k": 0.0, "precision@k": 0.1},
         "popularity": {"ndcg@k": 0.2, "precision@k": 0.4}}) == (
        "the model ranks below popularity: ndcg@5 0.0000 vs popularity's "
        "0.2000 (no hit at all), precision@5 0.1000 vs popularity's 0.4000 "
        "(4.0x lower); recommending the most rated movies would do better")


def test_tiny_run_page_warns_that_popularity_ranks_better(page, gathered):
    """The tiny model ranks below popularity (a few training steps)."""
    topk = gathered["topk"]
    assert topk["model"]["ndcg@k"] < topk["popularity"]["ndcg@k"]
    assert page.count("Warning: the model ranks below popularity") == 1


def test_beyond_accuracy_table_when_the_evaluation_has_it(gathered):
    values = {"catalog_coverage": 0.5, "distributional_coverage": 5.25,
              "novelty": 9.125, "diversity": 0.75, "serendipity": 0.875}
    changed = copy.deepcopy(gathered)
    changed["topk"]["beyond_accuracy"] = {
        "popularity": {name: value / 2 for name, value in values.items()},
        "model": values}
    page = report.render_html(changed, [("figure", PNG_SIGNATURE)] * 4)
    k = changed["topk"]["k"]
    assert (f"<h2>Beyond accuracy: the top-{k} lists (TopKEvaluator)</h2>\n"
            "<table><tr><th>metric</th><th>model</th><th>popularity</th>"
            "</tr><tr><td>catalog_coverage</td><td>0.5000</td><td>0.2500"
            "</td></tr><tr><td>distributional_coverage</td><td>5.2500</td>"
            "<td>2.6250</td></tr><tr><td>novelty</td><td>9.1250</td><td>"
            "4.5625</td></tr><tr><td>diversity</td><td>0.7500</td><td>0.3750"
            "</td></tr><tr><td>serendipity</td><td>0.8750</td><td>0.4375"
            "</td></tr></table>") in page
    # An evaluation made before the metrics existed: no table, no error.
    old = copy.deepcopy(gathered)
    old["topk"].pop("beyond_accuracy", None)
    plain = report.render_html(old, [("figure", PNG_SIGNATURE)] * 4)
    assert "Beyond accuracy" not in plain and "serendipity" not in plain


def test_tiny_run_page_has_its_beyond_accuracy_table(page, gathered):
    found = gathered["topk"].get("beyond_accuracy")
    if not found:
        pytest.skip("this TopKEvaluator writes no beyond_accuracy")
    assert (f"<tr><td>novelty</td><td>{found['model']['novelty']:.4f}</td>"
            f"<td>{found['popularity']['novelty']:.4f}</td>") in page


def test_unknown_run_id_is_a_clear_error(tiny_pipeline_run, tmp_path, capsys):
    out = tmp_path / "report.html"
    code = report.main(["--output-root", str(tiny_pipeline_run.output_root),
                        "--pipeline-name", tiny_pipeline_run.pipeline_name,
                        "--run-id", "2020-01-01T00:00:00", "--out", str(out)])
    assert code == 2
    [run_id] = metadata_report.run_ids(metadata_report.open_store(
        tiny_pipeline_run.metadata_path))
    assert capsys.readouterr().err == (
        "error: --run-id 2020-01-01T00:00:00: no such run in the metadata "
        f"store; its runs: {run_id}\n")
    assert not out.exists()
