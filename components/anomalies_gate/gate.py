"""Stops bad data before Transform, with a report that names what is wrong.

TFX 1.15's ExampleValidator records anomalies but does not stop the run; the
pipeline wires this gate between ExampleValidator and Transform so that bad
data never reaches training. Two checks the schema cannot express run here
too, on the examples themselves: a (user, item) pair rated twice, and a genre
outside features.GENRES (Transform would give it no slot: a silent drop).
"""
import os
from typing import Dict, List

import pandas as pd
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx.utils import io_utils

import movielens_features as features

# ExampleValidator writes one file of this name per split.
ANOMALIES_FILE = "SchemaDiff.pb"
_BOM = "\ufeff"


class DataAnomaliesError(RuntimeError):
    """The data does not match the curated schema; the message says how."""


def describe_anomalies(anomalies: anomalies_pb2.Anomalies, split: str
                       ) -> List[str]:
    """One line per anomaly: split, feature and TFDV's description."""
    if anomalies.data_missing:
        # TFDV validates nothing else when a split is empty.
        return [f"split '{split}': no examples (is the input data empty?)"]
    lines = []
    for feature, info in sorted(anomalies.anomaly_info.items()):
        reasons = "; ".join(r.description or r.short_description
                            for r in info.reason) or info.description
        # !r shows an invisible character: feature '\ufeffuser_id'.
        lines.append(f"split '{split}', feature {feature!r}: "
                     f"{reasons}{_hint(feature)}")
    if anomalies.HasField("dataset_anomaly_info"):
        info = anomalies.dataset_anomaly_info
        reasons = "; ".join(r.description or r.short_description
                            for r in info.reason) or info.description
        lines.append(f"split '{split}', whole dataset: {reasons}")
    return lines


def _hint(feature: str) -> str:
    if feature.startswith(_BOM):
        return (" (the CSV starts with a UTF-8 byte order mark, read as part "
                "of the first column's name: save it as UTF-8 without BOM)")
    return ""


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


def describe_bad_examples(splits: Dict[str, pd.DataFrame],
                          max_examples: int = 3) -> List[str]:
    """Repeated (user, item) pairs across all splits and unknown genres."""
    lines = []
    for split, frame in splits.items():
        tokens = _as_text(frame[features.GENRES_KEY]).str.split(
            features.GENRE_SEPARATOR, regex=False).explode()
        unknown = tokens[(tokens != "") & ~tokens.isin(features.GENRES)]
        if len(unknown):
            names = ", ".join(repr(name) for name in
                              unknown.value_counts().index[:max_examples])
            lines.append(
                f"split '{split}', feature '{features.GENRES_KEY}': "
                f"{len(unknown)} value(s) outside the known genres, such as "
                f"{names} (known: {', '.join(features.GENRES)})")
    pairs = [features.USER_KEY, features.ITEM_KEY]
    both = pd.concat([frame[pairs] for frame in splits.values()])
    repeated = both[both.duplicated(keep=False)].drop_duplicates()
    if len(repeated):
        shown = ", ".join(f"user {user} item {item}" for user, item in
                          repeated.head(max_examples).itertuples(index=False))
        lines.append(
            f"features '{features.USER_KEY}', '{features.ITEM_KEY}': "
            f"{len(repeated)} (user, item) pair(s) rated more than once, "
            f"such as {shown}")
    return lines


def _as_text(values: pd.Series) -> pd.Series:
    # Parsed tf.Examples give bytes; tests and pandas readers give str.
    return values.map(lambda v: v.decode() if isinstance(v, bytes) else v)


def check_examples(splits: Dict[str, pd.DataFrame]) -> None:
    """Raises DataAnomaliesError when describe_bad_examples finds anything."""
    lines = describe_bad_examples(splits)
    if lines:
        raise DataAnomaliesError(
            "the examples hold data the model cannot use as it is; nothing "
            "was trained or pushed:\n  " + "\n  ".join(lines))
