"""AnomaliesGate: a TFX component that fails the run on bad data."""
from tfx import v1 as tfx
from tfx.types import artifact_utils

from components.anomalies_gate import gate


@tfx.dsl.components.component
def AnomaliesGate(
        anomalies: tfx.dsl.components.InputArtifact[
            tfx.types.standard_artifacts.ExampleAnomalies],
        examples: tfx.dsl.components.InputArtifact[
            tfx.types.standard_artifacts.Examples]) -> None:
    """Raises gate.DataAnomaliesError on a schema anomaly in any split, then
    on repeated (user, item) pairs or unknown genres in the examples."""
    # Imported here: building the pipeline must not load TensorFlow.
    from components.topk_evaluator import data
    splits = artifact_utils.decode_split_names(anomalies.split_names)
    # Schema first: examples with anomalies may not even parse.
    gate.check_no_anomalies(anomalies.uri, splits)
    gate.check_examples({split: data.read_split(examples, split)
                         for split in splits})
