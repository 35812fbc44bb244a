"""The in-process CsvExampleGen executor: TFX's Beam executor's examples,
splits and artifact properties, deterministic files, and errors that name
the file and line. The pipeline picks it for Beam on this machine only."""
import glob
import pathlib
from typing import Dict, List, Tuple

import pytest
import tensorflow as tf
from tfx.components.example_gen.csv_example_gen import executor as beam_gen
from tfx.proto import example_gen_pb2
from tfx.types import standard_artifacts
from tfx.types import standard_component_specs as specs
from tfx.utils import proto_utils

from components.in_process_example_gen import executor as in_process_gen
from components.in_process_example_gen import reading
from conftest import write_synthetic_data
from pipeline import beam_args, configs
from pipeline.pipeline import example_gen_for
from pipeline.settings import Split

HASH_SPLIT = example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(
    splits=[example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=3),
            example_gen_pb2.SplitConfig.Split(name="eval", hash_buckets=1)]))
# Every kind of cell CsvExampleGen converts: ints, floats, strings, empty
# cells (a feature with no value), a quoted comma, a quoted line break, a
# blank line (skipped), a column with no value at all (no kind).
ODD_CSV = ('a,b,c,d\n'
           '1,2.5,x,\n'
           '2,,"y, z",\n'
           '\n'
           '3,4,"two\nlines",\n'
           '-4,1e3,,\n'
           + "".join(f"{n},{n / 2},s{n},\n" for n in range(5, 60)))


def run_executor(executor_class, data_dir: pathlib.Path,
                 out_dir: pathlib.Path,
                 output_config: example_gen_pb2.Output = HASH_SPLIT,
                 input_splits: Tuple[Tuple[str, str], ...] = (
                     ("single_split", "*"),),
                 **extra) -> standard_artifacts.Examples:
    examples = standard_artifacts.Examples()
    examples.uri = str(out_dir)
    input_config = example_gen_pb2.Input(splits=[
        example_gen_pb2.Input.Split(name=name, pattern=pattern)
        for name, pattern in input_splits])
    executor_class().Do({}, {specs.EXAMPLES_KEY: [examples]}, {
        specs.INPUT_BASE_KEY: str(data_dir),
        specs.INPUT_CONFIG_KEY: proto_utils.proto_to_json(input_config),
        specs.OUTPUT_CONFIG_KEY: proto_utils.proto_to_json(output_config),
        specs.OUTPUT_DATA_FORMAT_KEY: example_gen_pb2.FORMAT_TF_EXAMPLE,
        specs.OUTPUT_FILE_FORMAT_KEY: example_gen_pb2.FORMAT_TFRECORDS_GZIP,
        **extra})
    return examples


def split_records(out_dir: pathlib.Path) -> Dict[str, List[bytes]]:
    """{split folder: its records in file order}."""
    records = {}
    for split in sorted(glob.glob(str(out_dir / "Split-*"))):
        files = sorted(glob.glob(f"{split}/*.gz"))
        records[pathlib.Path(split).name] = [
            record.numpy() for record in
            tf.data.TFRecordDataset(files, compression_type="GZIP")]
    return records


def canonical(records: Dict[str, List[bytes]]) -> Dict[str, List[bytes]]:
    """Each split's examples, features in name order, sorted: Beam writes
    them in no fixed order, nor its features."""
    return {split: sorted(tf.train.Example.FromString(record)
                          .SerializeToString(deterministic=True)
                          for record in rows)
            for split, rows in records.items()}


def write(folder: pathlib.Path, name: str, text: str) -> pathlib.Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(text.encode("utf-8", "surrogateescape"))
    return folder


@pytest.mark.parametrize("data", ["synthetic", "odd"])
def test_examples_splits_and_properties_equal_tfx_beam_executor(tmp_path,
                                                                data):
    data_dir = tmp_path / "data"
    if data == "synthetic":
        write_synthetic_data(data_dir)
    else:
        write(data_dir, "odd.csv", ODD_CSV)
    ours = run_executor(in_process_gen.Executor, data_dir, tmp_path / "ours")
    theirs = run_executor(beam_gen.Executor, data_dir, tmp_path / "beam")
    ours_records = split_records(tmp_path / "ours")
    assert canonical(ours_records) == canonical(
        split_records(tmp_path / "beam"))
    assert sorted(ours_records) == ["Split-eval", "Split-train"]
    assert all(ours_records.values())
    assert ours.split_names == theirs.split_names == '["train", "eval"]'
    for name in ("payload_format", "file_format"):
        assert (ours.get_string_custom_property(name)
                == theirs.get_string_custom_property(name) != "")


def test_odd_cells_convert_as_csv_example_gen_converts_them(tmp_path):
    write(tmp_path / "data", "odd.csv", ODD_CSV)
    run_executor(in_process_gen.Executor, tmp_path / "data", tmp_path / "o")
    rows = {}
    for split in split_records(tmp_path / "o").values():
        for record in split:
            example = tf.train.Example.FromString(record)
            rows[example.features.feature["a"].int64_list.value[0]] = (
                example.features.feature)
    assert len(rows) == 59  # the blank line is no row
    assert list(rows[2]["b"].float_list.value) == []  # empty cell
    assert list(rows[2]["c"].bytes_list.value) == [b"y, z"]
    assert list(rows[3]["c"].bytes_list.value) == [b"two\nlines"]
    assert list(rows[-4]["b"].float_list.value) == [1000.0]
    assert rows[1]["d"].WhichOneof("kind") is None  # a column never filled


def test_the_same_input_writes_the_same_bytes_shuffled(tmp_path):
    write_synthetic_data(tmp_path / "data")
    # Sorted by user, as ML-1m and larger files are.
    csv = tmp_path / "data" / "ratings.csv"
    header, *rows = csv.read_text().splitlines()
    rows.sort(key=lambda row: int(row.split(",")[0]))
    csv.write_text("\n".join([header, *rows]) + "\n")
    run_executor(in_process_gen.Executor, tmp_path / "data", tmp_path / "a")
    run_executor(in_process_gen.Executor, tmp_path / "data", tmp_path / "b")
    files = sorted(glob.glob(str(tmp_path / "a" / "*" / "*.gz")))
    assert [pathlib.Path(f).name for f in files] == [reading.OUTPUT_FILE] * 2
    for path in files:
        twin = tmp_path / "b" / pathlib.Path(path).relative_to(tmp_path / "a")
        assert pathlib.Path(path).read_bytes() == twin.read_bytes()
    # Not in file order: the ratings file sorted by user must not reach
    # the Trainer in user order.
    users = [tf.train.Example.FromString(record).features.feature["user_id"]
             .int64_list.value[0]
             for record in split_records(tmp_path / "a")["Split-train"]]
    assert users != sorted(users)


def test_several_files_and_input_splits(tmp_path):
    write(tmp_path / "data", "a.csv", "x,y\n1,a\n2,b\n")
    write(tmp_path / "data", "b.csv", "x,y\n3,c\n")
    write(tmp_path / "data", "c.txt", "x,y\n4,d\n")
    run_executor(in_process_gen.Executor, tmp_path / "data", tmp_path / "o",
                 output_config=example_gen_pb2.Output(),
                 input_splits=(("train", "*.csv"), ("eval", "*.txt")))
    values = {split: sorted(tf.train.Example.FromString(r).features
                            .feature["x"].int64_list.value[0] for r in rows)
              for split, rows in split_records(tmp_path / "o").items()}
    assert values == {"Split-train": [1, 2, 3], "Split-eval": [4]}


@pytest.mark.parametrize("files,says", [
    ({"r.csv": "a,b\n1,2\n3,4,5\n"},
     r"r\.csv, line 3: 3 fields, but the header has 2 \(a,b\)"),
    ({"r.csv": 'a,b\n1,2\n3,"open\n4,5\n'},
     r"r\.csv, line 3: a quoted cell is never closed"),
    ({"r.csv": "a,b\n1,2\n3,Com\udce9dy\n"}, r"r\.csv, line 3: not UTF-8"),
    ({"r.csv": "a,b\n1,2\n", "s.csv": "a,c\n1,2\n"},
     r"s\.csv: header \['a', 'c'\] differs from .*r\.csv's \['a', 'b'\]"),
    ({}, r"no CSV file matches .*data/\*"),
], ids=["field_count", "unbalanced_quote", "not_utf8", "headers_differ",
        "no_file"])
def test_bad_input_is_named_by_file_and_line(tmp_path, files, says):
    (tmp_path / "data").mkdir()
    for name, text in files.items():
        write(tmp_path / "data", name, text)
    with pytest.raises((ValueError, FileNotFoundError), match=says):
        run_executor(in_process_gen.Executor, tmp_path / "data",
                     tmp_path / "o")


def test_refuses_what_it_does_not_write(tmp_path):
    write(tmp_path / "data", "r.csv", "a,b\n1,2\n")
    by_feature = example_gen_pb2.Output(split_config=example_gen_pb2
                                        .SplitConfig(
        splits=HASH_SPLIT.split_config.splits, partition_feature_name="a"))
    with pytest.raises(ValueError, match="partition_feature_name 'a'"):
        run_executor(in_process_gen.Executor, tmp_path / "data",
                     tmp_path / "o", output_config=by_feature)
    with pytest.raises(ValueError, match="FORMAT_PARQUET"):
        run_executor(in_process_gen.Executor, tmp_path / "data",
                     tmp_path / "p", **{specs.OUTPUT_DATA_FORMAT_KEY:
                                        example_gen_pb2.FORMAT_PARQUET})


@pytest.mark.parametrize("args,on_this_machine", [
    (beam_args.local(1), True), (beam_args.local(2), True),
    (beam_args.direct(2, image="gcr.io/p/i:1"), True),
    (["--runner", "DirectRunner"], True),
    (beam_args.portable("localhost:8099"), False),
    (beam_args.dataflow("p", "r", "gs://b/t", "gcr.io/p/i:1"), False),
    (["--runner", "FlinkRunner"], False),
])
def test_beam_on_this_machine_is_told_from_the_runner(args, on_this_machine):
    assert beam_args.runs_on_this_machine(args) is on_this_machine


@pytest.mark.parametrize("in_process,executor", [
    (True, in_process_gen.Executor), (False, beam_gen.Executor)])
def test_the_pipeline_picks_the_executor(in_process, executor):
    example_gen = example_gen_for(Split(configs.RANDOM_SPLIT), "/data",
                                  in_process=in_process)
    assert example_gen.executor_spec.executor_class is executor
