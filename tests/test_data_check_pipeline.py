"""What stops bad data inside the pipeline (with --skip-data-check, and on
Kubeflow, which has no pre-check): the real CsvExampleGen, StatisticsGen and
ExampleValidator executors on a tiny CSV, then the AnomaliesGate's check of
their anomalies, with the curated schema. Nothing is assumed about how TFDV
1.15 treats NaN or negative ids: it runs. Each case runs with both of
CsvExampleGen's executors the pipeline uses: the in-process one (Beam on
this machine) and TFX's Beam one (a Beam cluster).
"""
import re

import pytest

from tfx.components.example_gen.csv_example_gen import executor as csv_gen
from tfx.components.example_validator import executor as validator
from tfx.components.statistics_gen import executor as statistics_gen
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_artifacts
from tfx.types import standard_component_specs as specs
from tfx.utils import proto_utils

from components.anomalies_gate import gate
from components.in_process_example_gen import executor as in_process_gen
from conftest import REPO
import movielens_features as features

SCHEMA_DIR = REPO / "pipeline" / "schema"
HEADER = ",".join(features.CSV_COLUMNS)


def _rows(edits=None):
    """40 ratings of 10 users; edits: {row index: (column, value)}."""
    rows = [[str(user), str(10 + item), f"{1 + (user + item) % 5}.0",
             str(881250949 + 4 * user + item), "Drama"]
            for user in range(1, 11) for item in range(4)]
    for index, (column, value) in (edits or {}).items():
        rows[index][features.CSV_COLUMNS.index(column)] = value
    return [",".join(row) for row in rows]


def _write(folder, header, rows):
    folder.mkdir(parents=True)
    (folder / "ratings.csv").write_text(
        "".join(line + "\n" for line in [header, *rows]), encoding="utf-8")
    return folder


@pytest.fixture(params=[in_process_gen.Executor, csv_gen.Executor],
                ids=["in_process", "beam"])
def example_gen_executor(request):
    return request.param


def _gate_lines(data_dir, out_dir, example_gen_executor):
    """The AnomaliesGate's schema lines, without their split prefix, after
    the three executors ran as the pipeline runs them (75/25 hash split)."""
    examples = _artifact(standard_artifacts.Examples, out_dir / "examples")
    example_gen_executor().Do({}, {specs.EXAMPLES_KEY: [examples]}, {
        specs.INPUT_BASE_KEY: str(data_dir),
        specs.INPUT_CONFIG_KEY: proto_utils.proto_to_json(
            example_gen_pb2.Input(splits=[example_gen_pb2.Input.Split(
                name="single_split", pattern="*")])),
        specs.OUTPUT_CONFIG_KEY: proto_utils.proto_to_json(
            example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(
                splits=[example_gen_pb2.SplitConfig.Split(
                            name="train", hash_buckets=3),
                        example_gen_pb2.SplitConfig.Split(
                            name="eval", hash_buckets=1)]))),
        specs.OUTPUT_DATA_FORMAT_KEY: example_gen_pb2.FORMAT_TF_EXAMPLE})
    statistics = _artifact(standard_artifacts.ExampleStatistics,
                           out_dir / "statistics")
    statistics_gen.Executor().Do(
        {specs.EXAMPLES_KEY: [examples]},
        {specs.STATISTICS_KEY: [statistics]}, {specs.EXCLUDE_SPLITS_KEY: "[]"})
    schema = _artifact(standard_artifacts.Schema, SCHEMA_DIR)
    anomalies = _artifact(standard_artifacts.ExampleAnomalies,
                          out_dir / "anomalies")
    validator.Executor().Do(
        {specs.STATISTICS_KEY: [statistics], specs.SCHEMA_KEY: [schema]},
        {specs.ANOMALIES_KEY: [anomalies]}, {specs.EXCLUDE_SPLITS_KEY: "[]"})
    splits = artifact_utils.decode_split_names(anomalies.split_names)
    try:
        gate.check_no_anomalies(anomalies.uri, splits)
    except gate.DataAnomaliesError as error:
        return {re.sub(r"^split '(train|eval)', ", "", line.strip())
                for line in str(error).splitlines()[1:]}
    return set()


def _artifact(kind, uri):
    artifact = kind()
    artifact.uri = str(uri)
    return artifact


def test_clean_file_passes_the_schema(tmp_path, example_gen_executor):
    data = _write(tmp_path / "data", HEADER, _rows())
    assert _gate_lines(data, tmp_path / "out", example_gen_executor) == set()


def test_nan_rating_and_negative_ids_stop_at_the_gate(tmp_path,
                                                     example_gen_executor):
    # Without disallow_nan, TFDV ignores a NaN (it compares with no bound)
    # and the run dies in the Trainer as NanLossDuringTrainingError.
    data = _write(tmp_path / "data", HEADER, _rows({
        5: ("rating", "nan"), 9: ("user_id", "-5"), 17: ("item_id", "0")}))
    assert _gate_lines(data, tmp_path / "out", example_gen_executor) == {
        "feature 'rating': Float feature has NaN values.",
        "feature 'user_id': Unexpectedly small value: -5.",
        "feature 'item_id': Unexpectedly small value: 0."}


def test_byte_order_mark_is_shown_and_explained_by_the_gate(
        tmp_path, example_gen_executor):
    data = _write(tmp_path / "data", "\ufeff" + HEADER, _rows())
    assert _gate_lines(data, tmp_path / "out", example_gen_executor) == {
        "feature 'user_id': Column is completely missing",
        "feature '\\ufeffuser_id': New column (column in data but not in "
        "schema) (the CSV starts with a UTF-8 byte order mark, read as part "
        "of the first column's name: save it as UTF-8 without BOM)"}

