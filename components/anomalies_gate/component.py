"""AnomaliesGate: a TFX component that fails the run on bad data."""
from typing import Dict, List

import pandas as pd
from tfx.dsl.component.experimental.annotations import (InputArtifact,
                                                       Parameter)
from tfx.dsl.component.experimental.decorators import component
from tfx.types import artifact_utils, standard_artifacts

from components.anomalies_gate import gate


@component
def AnomaliesGate(
        anomalies: InputArtifact[standard_artifacts.ExampleAnomalies],
        examples: InputArtifact[standard_artifacts.Examples],
        code_fingerprint: Parameter[str] = "") -> None:
    """Raises gate.DataAnomaliesError on a schema anomaly in any split, or
    on repeated (user, item) pairs or unknown genres in the examples.
    code_fingerprint: the hash of this code, only part of the cache key
    (pipeline/fingerprint.py)."""
    del code_fingerprint  # unused
    splits = artifact_utils.decode_split_names(anomalies.split_names)
    try:
        gate.check_no_anomalies(anomalies.uri, splits)
    except gate.DataAnomaliesError as schema_error:
        # Name the examples' problems too, when the examples parse at all,
        # so that one run reports everything that is wrong.
        try:
            more = gate.describe_bad_examples(_read(examples, splits))
        except Exception:  # pylint: disable=broad-except
            more = []
        if not more:
            raise
        raise gate.DataAnomaliesError(
            "\n  ".join([str(schema_error), *more])) from None
    gate.check_examples(_read(examples, splits))


def _read(examples: standard_artifacts.Examples,
          splits: List[str]) -> Dict[str, pd.DataFrame]:
    # Imported here: building the pipeline must not load TensorFlow.
    from recommender import data
    return {split: data.read_split(examples, split) for split in splits}
