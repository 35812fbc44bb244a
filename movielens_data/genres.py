"""Genre spelling: source names -> canonical `features.GENRES` strings."""
from typing import Iterable, Optional

from movielens_features import GENRE_SEPARATOR, GENRES

# Spellings the GroupLens releases use for a canonical genre (20M/25M).
GENRE_ALIASES = {"Children": "Children's"}
# Marker the 20M/25M releases use for an item without any genre.
NO_GENRES_LISTED = "(no genres listed)"

_GENRE_ORDER = {name: index for index, name in enumerate(GENRES)}


def _unknown(name: str) -> ValueError:
    return ValueError(
        f"unknown genre {name!r} (known: {', '.join(GENRES)})")


def canonical_genres(names: Iterable[str]) -> str:
    """Join source genre names into a pipeline `genres` value.

    Applies GENRE_ALIASES, drops NO_GENRES_LISTED, removes repeats and sorts
    by GENRES order so equal genre sets give equal strings. Raises
    ValueError naming an unknown genre.
    """
    found = set()
    for name in names:
        if name == NO_GENRES_LISTED:
            continue
        canonical = GENRE_ALIASES.get(name, name)
        if canonical not in _GENRE_ORDER:
            raise _unknown(name)
        found.add(canonical)
    return GENRE_SEPARATOR.join(sorted(found, key=_GENRE_ORDER.__getitem__))


def unknown_pipeline_genre(value: str) -> Optional[str]:
    """The first non-canonical genre in a pipeline `genres` value, or None.

    Pipeline files must already be canonical, so no aliases apply here.
    """
    if value == "":
        return None
    for name in value.split(GENRE_SEPARATOR):
        if name not in _GENRE_ORDER:
            return name
    return None


def unknown_genre_message(name: str) -> str:
    """The DataError message for an unknown genre."""
    return str(_unknown(name))
