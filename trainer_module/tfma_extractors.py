"""TFMA extractors the Evaluator loads by module path.

TFMA slices on a feature's values; a multivalent feature puts an example in
one slice per value. The raw `genres` column is one '|'-joined string, so on
its own it gives a slice per genre combination. This module adds a derived
multivalent feature (features.GENRE_SLICE_KEY) holding each genre, for
per-genre slices.
"""
from typing import Any, Dict, List

import apache_beam as beam
import numpy as np
import tensorflow_model_analysis as tfma

import movielens_features as features

_SLICE_KEY_STAGE = "ExtractSliceKeys"


def genre_values(genres: Any) -> np.ndarray:
    """The genres of one example's `genres` feature, as an array of bytes.

    An empty or missing value gives [b""], so the example still has a slice
    value (movies without a genre are a slice of their own).
    """
    values = getattr(genres, "values", genres)  # SparseTensorValue or array
    joined = b"" if values is None else b"|".join(
        v if isinstance(v, bytes) else str(v).encode()
        for v in np.asarray(values).ravel())
    names = [name for name in joined.split(
        features.GENRE_SEPARATOR.encode()) if name]
    return np.array(names or [b""], dtype=object)


def add_genre_slice_feature(extract: Dict[str, Any]) -> Dict[str, Any]:
    """Copies an unbatched extract, adding the per-genre slice feature."""
    extract = dict(extract)
    extracted_features = dict(extract[tfma.FEATURES_KEY])
    extracted_features[features.GENRE_SLICE_KEY] = genre_values(
        extracted_features.get(features.GENRES_KEY))
    extract[tfma.FEATURES_KEY] = extracted_features
    return extract


def custom_extractors(eval_shared_model, eval_config,
                      tensor_adapter_config) -> List[tfma.extractors.Extractor]:
    """TFMA's default extractors, with the genre feature before slicing."""
    extractors = tfma.default_extractors(
        eval_shared_model=eval_shared_model, eval_config=eval_config,
        tensor_adapter_config=tensor_adapter_config)
    position = next(i for i, e in enumerate(extractors)
                    if e.stage_name == _SLICE_KEY_STAGE)
    genre_extractor = tfma.extractors.Extractor(
        stage_name="ExtractGenreSliceFeature",
        ptransform=beam.Map(add_genre_slice_feature))
    return extractors[:position] + [genre_extractor] + extractors[position:]
