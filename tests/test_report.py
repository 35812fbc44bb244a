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
from reporting import report, report_data, report_page
from runtime import metadata_report
from trainer_module.features import GENRE_SLICE_KEY

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
        row = (f"<tr><td>{html.escape(genre)}</td><td>{count:,}</td>"
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
        row = (f"<tr><td>{html.escape(slice_key[0][1] or report_data.NO_GENRE)}"
               f"</td><td>{int(values['example_count']):,}</td><td>{auc}"
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
    # Blue (rated pairs, the bars) and orange (sampled pairs, popularity)
    # come only from the figures.
    for color in (TAB_BLUE, TAB_ORANGE):
        near = np.all(np.abs(pixels - color) < 0.04, axis=-1)
        assert near.sum() > 200, f"no figure pixels of colour {color}"
