"""Reads raw examples (ExampleGen's output) into pandas: the TopKEvaluator,
the AnomaliesGate, the report and the recommend command read them so."""
import numpy as np
import pandas as pd
import tensorflow as tf
from tfx import types
from tfx.types import artifact_utils
from tfx.utils import io_utils

import movielens_features as features

from trainer_module import raw_examples

_PARSE_BATCH = 8192


def read_split(examples: types.Artifact, split: str) -> pd.DataFrame:
    """user_id, item_id, rating, genres of one split of an Examples artifact."""
    names = artifact_utils.decode_split_names(examples.split_names)
    if split not in names:
        raise ValueError(f"the examples at {examples.uri} have no split "
                         f"{split!r} (they have {names})")
    pattern = io_utils.all_files_pattern(
        artifact_utils.get_split_uri([examples], split))
    return read_examples(tf.io.gfile.glob(pattern))


def read_examples(files) -> pd.DataFrame:
    """Parses gzipped TFRecords of raw tf.Examples, in batches."""
    columns = {key: [] for key in raw_examples.RATING_KEYS}
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
    for batch in dataset.batch(_PARSE_BATCH):
        parsed = raw_examples.parse(batch, raw_examples.RATING_KEYS)
        for key in columns:
            columns[key].append(parsed[key].numpy())
    if not columns[features.USER_KEY]:
        raise ValueError(f"no examples in {files}")
    return pd.DataFrame({key: np.concatenate(values)
                         for key, values in columns.items()})

