"""Reads ExampleValidator's anomalies and fails with a readable report.

TFX 1.15's ExampleValidator records anomalies but does not stop the run; the
pipeline wires this gate between ExampleValidator and Transform so that bad
data never reaches training.
"""
import os
from typing import List

from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx.utils import io_utils

# ExampleValidator writes one file of this name per split.
ANOMALIES_FILE = "SchemaDiff.pb"


class DataAnomaliesError(RuntimeError):
    """The data does not match the curated schema; the message says how."""


def describe_anomalies(anomalies: anomalies_pb2.Anomalies, split: str
                       ) -> List[str]:
    """One line per anomaly: split, feature and TFDV's description."""
    lines = []
    for feature, info in sorted(anomalies.anomaly_info.items()):
        reasons = "; ".join(r.description or r.short_description
                            for r in info.reason) or info.description
        lines.append(f"split '{split}', feature '{feature}': {reasons}")
    if anomalies.HasField("dataset_anomaly_info"):
        info = anomalies.dataset_anomaly_info
        reasons = "; ".join(r.description or r.short_description
                            for r in info.reason) or info.description
        lines.append(f"split '{split}', whole dataset: {reasons}")
    return lines


def read_split_anomalies(anomalies_uri: str, split: str
                         ) -> anomalies_pb2.Anomalies:
    # ExampleValidator's layout: <artifact uri>/Split-<name>/SchemaDiff.pb
    path = os.path.join(anomalies_uri, f"Split-{split}", ANOMALIES_FILE)
    anomalies = anomalies_pb2.Anomalies()
    anomalies.ParseFromString(io_utils.read_bytes_file(path))
    return anomalies


def check_no_anomalies(anomalies_uri: str, splits: List[str]) -> None:
    """Raises DataAnomaliesError listing every anomaly of every split."""
    lines = [line for split in splits
             for line in describe_anomalies(
                 read_split_anomalies(anomalies_uri, split), split)]
    if lines:
        raise DataAnomaliesError(
            "ExampleValidator found data that does not match the schema "
            "(pipeline/schema/schema.pbtxt); nothing was trained or pushed:\n  "
            + "\n  ".join(lines))
