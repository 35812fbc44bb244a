"""Data preparation for the pipeline: MovieLens folders -> pipeline CSV.

A pipeline CSV has the header `features.CSV_COLUMNS`, one rating per line,
canonical genres joined by `features.GENRE_SEPARATOR`; each dataset is a
directory holding only `ratings.csv`. Modules:

* parsers - GroupLens ml-100k/1m/10m/20m/25m and RecBole folders
* recbole - the real MovieLens-100K from the recbole==1.2.1 wheel
* synthetic - generated ratings of any size or a release's shape
* validate - checks a pipeline CSV before the pipeline runs
* output - writing ratings/items files (and GroupLens release files);
  errors - DataError

Command line: `python -m movielens_data --help`.
"""
from movielens_data.errors import DataError
from movielens_data.output import (items_csv_path, read_titles,
                                   write_pipeline_csv)
from movielens_data.parsers import MovieLensData, load_movielens
from movielens_data.validate import validate_pipeline_csv

__all__ = ["DataError", "MovieLensData", "items_csv_path",
           "load_movielens", "read_titles", "validate_pipeline_csv",
           "write_pipeline_csv"]
