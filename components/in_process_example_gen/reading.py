"""CSV files to split, serialized tf.Examples, in this process: plain
functions of the files, no Beam.

Every step that decides what an example holds or where it goes is TFX's or
tfx_bsl's own (the record reading of CsvExampleGen, ParseCSVLine,
ColumnTypeInferrer, CsvExampleGen's cell conversion, ExampleGen's hash
partition), called directly, so the output is CsvExampleGen's record for
record; only Beam's per-element cost is gone.
"""
import os
import random
from typing import Dict, Iterator, List, Sequence, Tuple

import tensorflow as tf
from absl import logging
from tfx.components.example_gen import base_example_gen_executor, write_split
from tfx.components.example_gen.csv_example_gen import executor as csv_executor
from tfx.dsl.io import fileio
from tfx.proto import example_gen_pb2
from tfx.utils import io_utils
from tfx_bsl.coders import csv_decoder

# One output file per split, named as Beam's WriteToTFRecord names a single
# shard, so that readers of CsvExampleGen's output read it unchanged.
OUTPUT_FILE = f"{write_split.DEFAULT_FILE_NAME}-00000-of-00001.gz"
# CsvExampleGen reshuffles each split (Beam's Reshuffle, unseeded) before
# writing; a seeded shuffle keeps files sorted by user (ML-1m and larger)
# from reaching the Trainer in user order, and the same input gives the
# same files.
SHUFFLE_SEED = 0
PROGRESS_EVERY = 1_000_000

# A CSV row: (file, line number of its first line, cells as bytes).
Row = Tuple[str, int, List[bytes]]


def matching_csv_files(pattern: str) -> Tuple[List[str], List[str]]:
    """(files matching pattern, their common header's column names)."""
    files = sorted(fileio.glob(pattern))
    if not files:
        raise FileNotFoundError(f"no CSV file matches {pattern}")
    columns = io_utils.load_csv_column_names(files[0])
    for path in files[1:]:
        other = io_utils.load_csv_column_names(path)
        if other != columns:
            raise ValueError(
                f"{path}: header {other} differs from {files[0]}'s "
                f"{columns}; every CSV file of a split needs the same columns")
    return files, columns


def csv_records(path: str) -> Iterator[Tuple[int, str]]:
    """(line number, record) of every record after the header; a record
    spans lines while a quoted cell does (CsvExampleGen's line buffer)."""
    buffer = csv_executor._CsvLineBuffer()  # pylint: disable=protected-access
    start = 0
    with fileio.open(path, "rb") as lines:
        lines.readline()
        for number, line in enumerate(lines, start=2):
            if buffer.is_empty():
                start = number
            try:
                buffer.write(line.decode("utf-8"))
            except UnicodeDecodeError as error:
                raise ValueError(f"{path}, line {number}: not UTF-8 text "
                                 f"({error})") from error
            if buffer.is_complete_line():
                yield start, buffer.read()
    if not buffer.is_empty():
        raise ValueError(f"{path}, line {start}: a quoted cell is never "
                         "closed (unbalanced quotes)")


def csv_rows(files: Sequence[str], columns: Sequence[str]) -> Iterator[Row]:
    """Every non-blank row of files, parsed; a row whose number of cells is
    not the header's is refused by file and line."""
    parser = csv_decoder.ParseCSVLine(delimiter=",")
    parser.setup()
    for path in files:
        for number, record in csv_records(path):
            [(cells, _)] = parser.process(record)
            if not cells:
                continue  # CsvExampleGen skips blank lines
            if len(cells) != len(columns):
                raise ValueError(
                    f"{path}, line {number}: {len(cells)} fields, but the "
                    f"header has {len(columns)} ({','.join(columns)})")
            yield path, number, cells


def column_types(files: Sequence[str], columns: Sequence[str]
                 ) -> List[csv_decoder.ColumnInfo]:
    """Each column's type over all rows, as CsvExampleGen infers it (INT,
    then FLOAT, then STRING; a column with no value has none)."""
    inferrer = csv_decoder.ColumnTypeInferrer(list(columns),
                                              skip_blank_lines=True)
    types = inferrer.create_accumulator()
    rows = 0
    for _, _, cells in csv_rows(files, columns):
        types = inferrer.add_input(types, cells)
        rows += 1
        if rows % PROGRESS_EVERY == 0:
            logging.info("CsvExampleGen: column types of %d rows read", rows)
    if not rows:
        # As CsvExampleGen: empty splits, which the AnomaliesGate names.
        logging.warning("CsvExampleGen: no data rows in %s", ", ".join(files))
    return inferrer.extract_output(types)


def hash_split_examples(files: Sequence[str], columns: Sequence[str],
                        split_config: example_gen_pb2.SplitConfig
                        ) -> List[List[bytes]]:
    """The serialized examples of files, one list per split of
    split_config, each example where ExampleGen's hash partition puts it."""
    buckets, total = [], 0
    for split in split_config.splits:
        total += split.hash_buckets
        buckets.append(total)
    splits: List[List[bytes]] = [[] for _ in buckets]
    for record in serialized_examples(files, columns):
        # The partition key of an Example is this same deterministic
        # serialization; given the bytes, _PartitionFn hashes them as they are.
        index = base_example_gen_executor._PartitionFn(  # pylint: disable=protected-access
            record, len(buckets), buckets, split_config)
        splits[index].append(record)
    return splits


def all_examples(files: Sequence[str], columns: Sequence[str]) -> List[bytes]:
    """The serialized examples of files (an input split as one output
    split)."""
    return list(serialized_examples(files, columns))


def serialized_examples(files: Sequence[str], columns: Sequence[str]
                        ) -> Iterator[bytes]:
    """The tf.Example of every row, CsvExampleGen's cell conversion,
    serialized deterministically (features in name order): the same rows
    give the same bytes, where Beam's output order of features varies."""
    infos = column_types(files, columns)
    convert = csv_executor._ParsedCsvToTfExample()  # pylint: disable=protected-access
    count = 0
    for _, _, cells in csv_rows(files, columns):
        for example in convert.process(cells, infos):
            yield example.SerializeToString(deterministic=True)
        count += 1
        if count % PROGRESS_EVERY == 0:
            logging.info("CsvExampleGen: %d of the rows converted", count)


def write_split_records(records: List[bytes], split_dir: str) -> str:
    """Writes records, shuffled with SHUFFLE_SEED, as split_dir's one
    gzipped TFRecord file; its path."""
    random.Random(SHUFFLE_SEED).shuffle(records)
    fileio.makedirs(split_dir)
    path = os.path.join(split_dir, OUTPUT_FILE)
    with tf.io.TFRecordWriter(path, options="GZIP") as writer:
        for record in records:
            writer.write(record)
    return path


def split_counts(splits: Dict[str, List[bytes]]) -> str:
    """'train 74,789, eval 25,211': for the log."""
    return ", ".join(f"{name} {len(records):,}"
                     for name, records in splits.items())
