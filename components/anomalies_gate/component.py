"""AnomaliesGate: a TFX component that fails the run on data anomalies."""
from tfx import v1 as tfx
from tfx.types import artifact_utils

from components.anomalies_gate import gate


@tfx.dsl.components.component
def AnomaliesGate(
        anomalies: tfx.dsl.components.InputArtifact[
            tfx.types.standard_artifacts.ExampleAnomalies]) -> None:
    """Raises gate.DataAnomaliesError when any split has an anomaly."""
    splits = artifact_utils.decode_split_names(anomalies.split_names)
    gate.check_no_anomalies(anomalies.uri, splits)
