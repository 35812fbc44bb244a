"""The TFMA dashboard notebook and the functions behind it.

The notebook runs headless (nbclient) against the shared tiny run, in a
kernel of this interpreter (the venv's python) whatever kernel specs the
machine has; reporting/tfma_results.py is tested on the same run and on a
hand-made metadata store (cached, failed and other components' executions).
Then the command of docs/results.md serves it with nbclassic and headless Chromium runs
it, as a user would, to check that TFMA's widgets render.
"""
import json
import os
import pathlib
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import importlib.metadata
from typing import Any, Dict, Iterator, List, Optional, Set, Tuple

import ml_metadata as mlmd
import nbclient
import nbformat
import pytest
import tensorflow_model_analysis as tfma
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from ml_metadata.proto import metadata_store_pb2
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from conftest import PipelineRun
from runtime import metadata_report
from reporting import tfma_results
import movielens_features as features

REPO = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOK = REPO / "notebooks" / "tfma_dashboard.ipynb"
KERNEL_NAME = "movielens-tfx-test"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
METRICS = ["example_count", "mean_absolute_error", "mean_squared_error",
           "root_mean_squared_error"]
Execution = metadata_store_pb2.Execution


def _expected_rmse(run: PipelineRun) -> str:
    """The overall RMSE as the local runner's summary prints it."""
    store = metadata_report.open_store(run.metadata_path)
    metrics = metadata_report.overall_metrics(
        metadata_report.latest_evaluation_uri(store))
    return f"{metrics['root_mean_squared_error']:.4f}"


# --- reporting/tfma_results.py on the tiny run -----------------------------

@pytest.fixture(scope="module")
def tiny_store(tiny_pipeline_run) -> mlmd.MetadataStore:
    return metadata_report.open_existing_store(
        tiny_pipeline_run.metadata_path)


def test_evaluation_uris_of_the_tiny_run(tiny_store):
    uris = tfma_results.evaluation_uris(tiny_store)
    assert uris == [metadata_report.latest_evaluation_uri(tiny_store)]
    assert pathlib.Path(uris[0]).parent.parent.name == "Evaluator"
    assert tfma.load_eval_result(uris[0]).slicing_metrics
    results = tfma_results.eval_results_over_runs(uris)
    assert results.get_mode() == tfma.constants.MODEL_CENTRIC_MODE
    assert len(results.get_results()) == 1


def test_overall_metrics_table(tiny_store, tiny_pipeline_run):
    table = tfma_results.overall_metrics_table(
        tfma_results.latest_eval_result(tiny_store))
    assert list(table.columns) == METRICS
    assert list(table.index) == ["Overall"]
    assert (f"{table.at['Overall', 'root_mean_squared_error']:.4f}"
            == _expected_rmse(tiny_pipeline_run))


def test_slice_metrics_table_has_a_row_per_genre(tiny_store):
    result = tfma_results.latest_eval_result(tiny_store)
    table = tfma_results.slice_metrics_table(result, features.GENRE_SLICE_KEY)
    genres = {value for key in result.get_slice_names() if len(key) == 1
              for column, value in key if column == features.GENRE_SLICE_KEY}
    assert list(table.columns) == [features.GENRE_SLICE_KEY, *METRICS]
    assert len(genres) > 1
    assert sorted(table[features.GENRE_SLICE_KEY]) == sorted(genres)
    assert genres <= set(features.GENRES) | {""}
    assert list(table["example_count"]) == sorted(table["example_count"],
                                                  reverse=True)
    overall = tfma_results.overall_metrics_table(result)
    assert table["example_count"].sum() >= overall.at["Overall",
                                                      "example_count"]


def test_metrics_over_runs_of_the_tiny_run(tiny_store, tiny_pipeline_run):
    table = tfma_results.metrics_over_runs(tiny_store)
    assert list(table.columns) == ["run", "run_id", "time", "rmse", "mae",
                                   "example_count", "blessed",
                                   "evaluation_uri"]
    [row] = table.to_dict("records")
    assert row["run"] == 1
    assert row["run_id"] == metadata_report.run_ids(tiny_store)[-1]
    assert f"{row['rmse']:.4f}" == _expected_rmse(tiny_pipeline_run)
    assert row["blessed"] is True  # the tiny run pushed a model


# --- on a hand-made store: cached, failed and other components ------------

def _fake_store(executions: List[Tuple[str, int, str, str]]
                ) -> mlmd.MetadataStore:
    """An in-memory store; each execution is (node, state, run id, uri of
    its "evaluation" output). A uri "@<n>" re-uses the artifact of execution
    n (0-based), as a cached execution does."""
    store = mlmd.MetadataStore(metadata_store_pb2.ConnectionConfig(
        fake_database=metadata_store_pb2.FakeDatabaseConfig()))
    types = {name: store.put_context_type(
        metadata_store_pb2.ContextType(name=name))
        for name in ("node", "pipeline_run")}
    artifact_type = store.put_artifact_type(
        metadata_store_pb2.ArtifactType(name="ModelEvaluation"))
    execution_type = store.put_execution_type(
        metadata_store_pb2.ExecutionType(name="component"))
    contexts: Dict[str, metadata_store_pb2.Context] = {}
    artifacts: List[int] = []
    for node, state, run, uri in executions:
        artifact = metadata_store_pb2.Artifact(type_id=artifact_type, uri=uri)
        if uri.startswith("@"):
            [artifact] = store.get_artifacts_by_id([artifacts[int(uri[1:])]])
        event = metadata_store_pb2.Event(type=metadata_store_pb2.Event.OUTPUT)
        event.path.steps.add().key = "evaluation"
        _, [artifact_id], _ = store.put_execution(
            Execution(type_id=execution_type, last_known_state=state),
            [(artifact, event)],
            [_context(store, contexts, types["node"], f"p.{node}"),
             _context(store, contexts, types["pipeline_run"], run)])
        artifacts.append(artifact_id)
    return store


def _context(store: mlmd.MetadataStore,
             contexts: Dict[str, metadata_store_pb2.Context], type_id: int,
             name: str) -> metadata_store_pb2.Context:
    if name not in contexts:
        context = metadata_store_pb2.Context(type_id=type_id, name=name)
        [context.id] = store.put_contexts([context])
        contexts[name] = context
    return contexts[name]


def test_evaluation_uris_dedupes_cached_and_skips_failed():
    store = _fake_store([
        ("Evaluator", Execution.COMPLETE, "run-1", "/eval/1"),
        ("TopKEvaluator", Execution.COMPLETE, "run-1", "/topk/2"),
        ("Evaluator", Execution.FAILED, "run-2", "/eval/3"),
        ("Evaluator", Execution.CACHED, "run-3", "@0"),
        ("Evaluator", Execution.COMPLETE, "run-4", "/eval/5"),
        ("Evaluator", Execution.CACHED, "run-5", "@4"),
    ])
    assert tfma_results.evaluation_uris(store) == ["/eval/1", "/eval/5"]
    assert [e.run_id for e in tfma_results.evaluations(store)] == [
        "run-1", "run-4"]
    assert tfma_results.evaluation_uris(store, "TopKEvaluator") == ["/topk/2"]


def test_metrics_over_runs_has_a_row_per_evaluation(tiny_store,
                                                    tiny_pipeline_run):
    uri = metadata_report.latest_evaluation_uri(tiny_store)
    store = _fake_store([("Evaluator", Execution.COMPLETE, "run-1", uri),
                         ("Evaluator", Execution.CACHED, "run-2", "@0"),
                         ("Evaluator", Execution.COMPLETE, "run-3", uri)])
    table = tfma_results.metrics_over_runs(store)
    assert list(table["run"]) == [1, 2]
    assert list(table["run_id"]) == ["run-1", "run-3"]
    assert table["time"].is_monotonic_increasing
    assert {f"{rmse:.4f}" for rmse in table["rmse"]} == {
        _expected_rmse(tiny_pipeline_run)}
    assert list(table["blessed"]) == [None, None]  # no blessing outputs


# --- the notebook, executed once per module --------------------------------

def _kernel_manager(kernels_dir: pathlib.Path) -> AsyncKernelManager:
    """A kernel of sys.executable from a spec only this test sees: a user's
    or system "python3" spec may point at another interpreter."""
    spec_dir = kernels_dir / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher",
                 "-f", "{connection_file}"],
        "display_name": "movielens-tfx tests", "language": "python"}))
    return AsyncKernelManager(
        kernel_name=KERNEL_NAME,
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels_dir)]))


def execute_notebook(run: PipelineRun, kernels_dir: pathlib.Path
                     ) -> nbformat.NotebookNode:
    """The dashboard notebook executed on `run`; raises CellExecutionError,
    with the cell and traceback, on any error."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook, km=_kernel_manager(kernels_dir),
        timeout=300, startup_timeout=120,
        resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    env = dict(os.environ, MOVIELENS_OUTPUT_ROOT=str(run.output_root),
               MOVIELENS_PIPELINE_NAME=run.pipeline_name)
    return client.execute(cleanup_kc=True, env=env)


@pytest.fixture(scope="module")
def executed_notebook(tiny_pipeline_run, tmp_path_factory
                      ) -> nbformat.NotebookNode:
    return execute_notebook(tiny_pipeline_run,
                            tmp_path_factory.mktemp("kernels"))


def test_notebook_runs_on_a_ranking_run(tiny_ranking_run, tmp_path):
    notebook = execute_notebook(tiny_ranking_run, tmp_path)
    store = metadata_report.open_store(tiny_ranking_run.metadata_path)
    auc = metadata_report.overall_metrics(
        metadata_report.latest_evaluation_uri(store))["auc"]
    text = "\n".join(_text(cell.get("outputs", []))
                     for cell in notebook.cells)
    assert "auc" in text and f"{auc:.4f}"[:5] in text


def _outputs(notebook: nbformat.NotebookNode, tag: str) -> List[Dict]:
    [cell] = [c for c in notebook.cells if tag in c.metadata.get("tags", [])]
    return cell.outputs


def _text(outputs: List[Dict]) -> str:
    """Streams and plain-text representations, as a reader without HTML
    sees them."""
    return "\n".join(
        o.get("text", "") + o.get("data", {}).get("text/plain", "")
        for o in outputs)


def _widget_states(notebook: nbformat.NotebookNode,
                   outputs: List[Dict]) -> List[Dict]:
    """The stored state of each widget the outputs display."""
    states = notebook.metadata["widgets"][WIDGET_STATE]["state"]
    return [states[o["data"][WIDGET_VIEW]["model_id"]] for o in outputs
            if WIDGET_VIEW in o.get("data", {})]


def test_committed_notebook_has_no_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code[0].metadata.get("tags") == ["parameters"]
    assert all(not cell.outputs and cell.execution_count is None
               for cell in code)
    assert "widgets" not in notebook.metadata  # no saved widget state


def test_notebook_shows_the_overall_rmse(executed_notebook, tiny_pipeline_run):
    text = _text(_outputs(executed_notebook, "overall-metrics"))
    assert "root_mean_squared_error" in text
    assert _expected_rmse(tiny_pipeline_run) in text, text


def test_notebook_renders_the_genre_slices(executed_notebook,
                                           tiny_pipeline_run):
    [state] = _widget_states(executed_notebook,
                             _outputs(executed_notebook, "slicing-metrics"))
    assert state["model_name"] == "SlicingMetricsModel"
    slices = {row["slice"] for row in state["state"]["data"]}
    result = tfma_results.latest_eval_result(
        metadata_report.open_store(tiny_pipeline_run.metadata_path))
    assert slices == {f"{column}:{value}"
                      for key in result.get_slice_names() if len(key) == 1
                      for column, value in key
                      if column == features.GENRE_SLICE_KEY}


def test_notebook_shows_runs(executed_notebook, tiny_pipeline_run):
    [state] = _widget_states(executed_notebook,
                             _outputs(executed_notebook, "time-series"))
    assert state["model_name"] == "TimeSeriesModel"
    assert len(state["state"]["data"]) == 1  # the tiny run evaluated once
    assert _expected_rmse(tiny_pipeline_run) in _text(
        _outputs(executed_notebook, "metrics-over-runs"))
    assert any("image/png" in output.get("data", {})
               for output in _outputs(executed_notebook, "rmse-plot"))


# --- the docs' command (docs/results.md), in headless Chromium --------------
# TFMA 0.46's widgets have a front end only as a classic-Notebook extension:
# scripts/setup_env.sh enables it and docs/results.md opens the notebook in
# nbclassic. Here that command serves a copy of the notebook (nbclassic saves
# what it runs), and headless Chromium, driven by Selenium through Debian's
# chromedriver, runs every cell in a live kernel, as Cell > Run All does, and
# reads the page.

JUPYTER = pathlib.Path(sys.executable).parent / "jupyter"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
MSG_TYPE = re.compile(r'"msg_type":\s*"(\w+)"')
# Google Charts and Fonts, which TFMA's views load at run time: blocked, so
# the test reaches no host but this one whether or not the machine is online.
BLOCKED_URLS = ["*.gstatic.com/*", "*.googleapis.com/*"]
# The page's state: cells run, errors shown, and each TFMA view: whether its
# Polymer element is defined and rendered, its rows of data, the custom
# elements inside it and its text (through shadow roots, without styles).
_PAGE_STATE = """(() => {
const deepText = (n) => {
  if (n.nodeType === Node.TEXT_NODE) return n.textContent + ' ';
  if (n.nodeName === 'STYLE' || n.nodeName === 'SCRIPT') return '';
  let t = n.shadowRoot ? deepText(n.shadowRoot) : '';
  for (const c of n.childNodes) t += deepText(c);
  return t;
};
const deepTags = (n, acc) => {
  if (n.tagName && n.tagName.includes('-')) acc.add(n.tagName.toLowerCase());
  if (n.shadowRoot) deepTags(n.shadowRoot, acc);
  for (const c of n.children || []) deepTags(c, acc);
  return acc;
};
const view = (name) => {
  const el = document.querySelector(name);
  return el && {upgraded: !!customElements.get(name) && !!el.shadowRoot,
                rows: (el.data || []).length,
                tags: [...deepTags(el, new Set())],
                text: deepText(el).replace(/\\s+/g, ' ').trim()};
};
const code = Jupyter.notebook.get_cells().filter(c => c.cell_type === 'code');
return JSON.stringify({
  executed: code.filter(c => typeof c.input_prompt_number === 'number').length,
  cells: code.length,
  busy: Jupyter.notebook.kernel_busy,
  errors: [...document.querySelectorAll('.output_area')].filter(o =>
      o.querySelector('.output_error')
      || /Error displaying widget|model not found|Could not create/i.test(o.innerText))
    .map(o => o.innerText.slice(0, 2000)),
  slicing: view('tfma-nb-slicing-metrics'),
  time_series: view('tfma-nb-time-series'),
  // What tfma_results.widget_bundle_loader() leaves.
  bundle_loaded_without_amd:
    !!document.querySelector('script[type="text/x-tfma-loaded-without-amd"]')
    && typeof (window.d3 && window.d3.tip) === 'function',
});
})()"""
_KERNEL_READY = """!!(window.Jupyter && Jupyter.notebook && Jupyter.notebook.kernel
  && Jupyter.notebook.kernel.is_connected() && Jupyter.notebook.kernel.widget_manager
  && Object.keys(Jupyter.notebook.kernel.info_reply || {}).length)"""
# TFMA's nbextension maps the widgets' module name to its code.
_TFMA_LOADED = """!!(requirejs.s.contexts._.config.map['*'] || {})
  .tensorflow_model_analysis"""
# Once the kernel is ready, the widget manager asks it for its widgets (over
# the control comm, or else with comm_info) and then re-renders every widget
# output: cells run before its answer lose their widgets. A person is never
# that quick; the test waits for the answer.
_WIDGET_MANAGER_ANSWERED = {"comm_info_reply", "update_states"}


def _readme_open_command() -> List[str]:
    """The command of docs/results.md that opens the dashboard, as argv."""
    readme = (REPO / "docs" / "results.md").read_text()
    [line] = [line for line in readme.splitlines()
              if line.startswith(".venv/bin/jupyter nbclassic ")]
    return shlex.split(line, comments=True)


def test_tfma_nbextension_is_enabled_in_the_venv():
    # Each "Validating" line, on stderr, follows its extension's line.
    listing = subprocess.run([str(JUPYTER), "nbclassic-extension", "list"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, timeout=60)
    text = ANSI.sub("", listing.stdout)
    assert listing.returncode == 0, text
    assert f"config dir: {sys.prefix}/etc/jupyter/nbconfig" in text, text
    for extension in ("tensorflow_model_analysis/extension",
                      "jupyter-js-widgets/extension"):
        assert re.search(re.escape(extension)
                         + r"\s+enabled\s*\n\s*- Validating: OK", text), text
    # 3.6.7 and later are built as ES2017 classes, whose static methods
    # TFMA's Backbone-style models do not inherit.
    version = tuple(int(part) for part in importlib.metadata.version(
        "widgetsnbextension").split(".")[:3])
    assert version < (3, 6, 7)


def test_readme_and_notebook_give_the_same_open_command():
    command = _readme_open_command()
    assert command[:2] == [".venv/bin/jupyter", "nbclassic"]
    assert (f"--NotebookApp.default_url=/nbclassic/notebooks/"
            f"{NOTEBOOK.relative_to(REPO)}") in command
    intro = nbformat.read(NOTEBOOK, as_version=4).cells[0].source
    assert shlex.join(command) in intro


def test_notebook_loads_the_widget_bundle_before_the_views():
    code = [cell.source for cell in nbformat.read(NOTEBOOK, as_version=4).cells
            if cell.cell_type == "code"]
    [loader] = [i for i, source in enumerate(code)
                if "tfma_results.widget_bundle_loader()" in source]
    views = [i for i, source in enumerate(code) if "tfma.view.render" in source]
    assert len(views) == 2 and loader < min(views)
    script = tfma_results.widget_bundle_loader().data
    assert "nbextensions/tensorflow_model_analysis/vulcanized_tfma.js" in script
    assert (pathlib.Path(sys.prefix) / "share/jupyter/nbextensions"
            / "tensorflow_model_analysis/vulcanized_tfma.js").is_file()


def _open_url(open_file: pathlib.Path) -> Optional[str]:
    """The URL of the page `jupyter nbclassic` opens, once it is written."""
    if not open_file.exists():
        return None
    match = re.search(r'url=([^"]+)"', open_file.read_text())
    return match.group(1) if match else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _poll(fetch, done, timeout: float, interval: float = 0.5):
    """fetch() until done(value) or the timeout; the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def _wait(condition, timeout: float, what: str, interval: float = 0.25):
    value = _poll(condition, bool, timeout, interval)
    assert value, f"timed out after {timeout:.0f} s waiting for {what}"
    return value


@pytest.fixture
def dashboard_url(tiny_pipeline_run, tmp_path) -> Iterator[str]:
    """Runs the docs' command in a folder laid out like the repository
    (a copy of the notebook in notebooks/), with fresh Jupyter config, data
    and runtime folders, so only the venv's (sys.prefix) configuration
    counts, and yields the page it opens in a user's browser."""
    root = tmp_path / "repo"
    (root / "notebooks").mkdir(parents=True)
    shutil.copy(NOTEBOOK, root / "notebooks")
    command = _readme_open_command()
    runtime = tmp_path / "jupyter" / "runtime"
    env = dict(os.environ,
               MOVIELENS_OUTPUT_ROOT=str(tiny_pipeline_run.output_root),
               MOVIELENS_PIPELINE_NAME=tiny_pipeline_run.pipeline_name,
               JUPYTER_RUNTIME_DIR=str(runtime),
               JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter" / "config"),
               JUPYTER_DATA_DIR=str(tmp_path / "jupyter" / "data"),
               IPYTHONDIR=str(tmp_path / "ipython"))
    token = os.urandom(16).hex()
    flags = ["--no-browser", "--ServerApp.ip=127.0.0.1",
             f"--ServerApp.port={_free_port()}",
             f"--IdentityProvider.token={token}"]
    if os.geteuid() == 0:
        flags.append("--allow-root")
    log_path = tmp_path / "server.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen([str(JUPYTER), *command[1:], *flags],
                                  cwd=root, env=env, stdout=log,
                                  stderr=subprocess.STDOUT,
                                  start_new_session=True)
    try:
        # The page `jupyter nbclassic` opens in the user's browser.
        open_file = runtime / f"jpserver-{server.pid}-open.html"
        # The server creates the file, then writes it: wait for its URL.
        _wait(lambda: _open_url(open_file) or server.poll() is not None, 60,
              "the server")
        assert server.poll() is None, log_path.read_text()[-3000:]
        url = _open_url(open_file)
        assert url.endswith(f"/nbclassic/notebooks/notebooks/"
                            f"{NOTEBOOK.name}?token={token}"), url

        def serves() -> bool:
            try:
                return urllib.request.urlopen(url, timeout=5).status == 200
            except OSError:
                return False
        _wait(serves, 30, url, interval=0.5)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # shuts its kernels down
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@pytest.fixture
def chromium() -> Iterator[webdriver.Chrome]:
    """Headless Chromium driven by Debian's chromedriver (WebDriver), which
    logs the page's network events: the frames its websockets receive."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        pytest.skip("headless Chromium or its chromedriver is not installed "
                    "(scripts/test.sh installs Debian's chromium and "
                    "chromium-driver)")
    options = webdriver.ChromeOptions()
    for flag in ("--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-component-update", "--window-size=1400,1800"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    # Both paths given: Selenium Manager looks for (downloads) nothing.
    options.binary_location = browser
    page = webdriver.Chrome(options=options, service=Service(driver))
    yield page
    page.quit()


def _received_msg_types(page: webdriver.Chrome, seen: Set[str]) -> Set[str]:
    """`seen` with the types of the Jupyter messages the page's websockets
    received since the last call (the header comes first in each frame)."""
    for entry in page.get_log("performance"):
        event = json.loads(entry["message"])["message"]
        if event["method"] == "Network.webSocketFrameReceived":
            header = event["params"]["response"]["payloadData"][:2000]
            seen.update(MSG_TYPE.findall(header)[:1])
            if '"update_states"' in header:  # on the control comm
                seen.add("update_states")
    return seen


def _views_rendered(state: Dict[str, Any]) -> bool:
    return all(state[view] and state[view]["upgraded"]
               and state[view]["text"] for view in ("slicing", "time_series"))


def test_readme_command_renders_the_tfma_widgets(dashboard_url, chromium,
                                                 tiny_pipeline_run, tmp_path):
    chromium.execute_cdp_cmd("Network.enable", {})
    chromium.execute_cdp_cmd("Network.setBlockedURLs", {"urls": BLOCKED_URLS})
    chromium.get(dashboard_url)
    _wait(lambda: chromium.execute_script(f"return {_KERNEL_READY}"), 60,
          "the notebook, its kernel and the widget manager")
    _wait(lambda: chromium.execute_script(f"return {_TFMA_LOADED}"), 10,
          "TFMA's nbextension (tensorflow_model_analysis/extension)")
    received: Set[str] = set()
    _wait(lambda: _WIDGET_MANAGER_ANSWERED
          & _received_msg_types(chromium, received), 30,
          "the kernel's answer to the widget manager")
    chromium.execute_script("Jupyter.notebook.set_autosave_interval(0); "
                            "Jupyter.notebook.execute_all_cells()")

    def page_state() -> Dict[str, Any]:
        return json.loads(chromium.execute_script(f"return {_PAGE_STATE}"))
    state = _poll(page_state, lambda state: state["errors"] or (
        state["executed"] == state["cells"] and not state["busy"]
        and _views_rendered(state)), timeout=120, interval=1)
    chromium.execute_script(
        "(document.querySelector('tfma-nb-slicing-metrics')"
        " || document.body).closest('.cell, body').scrollIntoView()")
    screenshot = tmp_path / "tfma_dashboard.png"
    chromium.save_screenshot(str(screenshot))

    assert state["errors"] == [], state["errors"]
    assert state["executed"] == state["cells"], state
    # Without it the second view fails about every other run.
    assert state["bundle_loaded_without_amd"], state
    result = tfma_results.latest_eval_result(
        metadata_report.open_store(tiny_pipeline_run.metadata_path))
    genres = [key for key in result.get_slice_names() if len(key) == 1
              and key[0][0] == features.GENRE_SLICE_KEY]
    slicing, time_series = state["slicing"], state["time_series"]
    # TFMA's Polymer elements are defined, rendered, and hold the data.
    assert slicing and slicing["upgraded"], (state, screenshot)
    assert slicing["rows"] == len(genres) > 1
    assert {"tfma-slicing-metrics-browser", "tfma-metrics-table",
            "tfma-slice-overview"} <= set(slicing["tags"]), slicing["tags"]
    # The metric pickers list the evaluation's metrics.
    for metric in METRICS:
        assert metric in slicing["text"], slicing["text"][:2000]
    assert time_series and time_series["upgraded"], (state, screenshot)
    assert time_series["rows"] == 1  # the tiny run evaluated once
    assert "Add metric series" in time_series["text"], time_series["text"]
