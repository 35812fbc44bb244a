"""Parsers of the GroupLens/RecBole layouts, on tiny hand-written folders."""
from pathlib import Path
from typing import Dict, Optional

import pandas as pd
import pytest

from movielens_data.errors import DataError
from movielens_data.parsers import (convert_folder, detect_layout,
                                    load_movielens)
from movielens_data.output import write_pipeline_csv
from movielens_features import CSV_COLUMNS

# u.item genre flag order, as in the ml-100k README.
U_ITEM_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy",
    "Crime", "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror",
    "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western")


def u_item_line(item_id: int, title: str, *genres: str) -> str:
    flags = "|".join("1" if name in genres else "0"
                     for name in U_ITEM_GENRES)
    return f"{item_id}|{title}|01-Jan-1995||http://imdb/{item_id}|{flags}\n"


# name -> (text, encoding) of every file of a good folder, per layout.
GOOD: Dict[str, Dict[str, tuple]] = {
    "ml-100k": {
        "u.data": ("1\t10\t4\t881250949\n"
                   "1\t20\t3\t881250950\n"
                   "2\t10\t5\t881250951\n", "ascii"),
        "u.item": (u_item_line(10, "Amélie (2001)", "Comedy", "Romance")
                   + u_item_line(20, "unknown", "unknown")
                   + u_item_line(30, "Toy Story (1995)", "Animation",
                                 "Children's", "Comedy"), "latin-1"),
    },
    "ml-1m": {
        "ratings.dat": ("1::1193::5::978300760\n"
                        "1::661::3::978302109\n"
                        "2::1193::4::978298413\n", "ascii"),
        "movies.dat": ("1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
                       "661::James and the Giant Peach (1996)::"
                       "Musical|Animation|Children's\n"
                       "3::Star Wars: Episode IV - A New Hope (1977)::"
                       "Action|Adventure|Fantasy|Sci-Fi\n"
                       "4::Léon (1994)::Crime|Drama\n", "latin-1"),
    },
    # ml-10M100K: ml-1m's files and '::', with half stars written 5 / 3.5
    # and the later genre spellings.
    "ml-10m": {
        "ratings.dat": ("1::122::5::838985046\n"
                        "1::8606::3.5::838983525\n"
                        "3::122::0.5::1136075494\n", "ascii"),
        "movies.dat": ("122::Boomerang (1992)::Comedy|Romance\n"
                       "8606::Pull My Daisy (1958)::(no genres listed)\n"
                       "2::Jumanji (1995)::Adventure|Children|Fantasy\n"
                       "3::Fantasia 2000 (1999)::Animation|Children|IMAX"
                       "|Musical\n", "utf-8"),
    },
    "ml-20m": {
        "ratings.csv": ("userId,movieId,rating,timestamp\n"
                        "1,2,3.5,1112486027\n"
                        "1,29,4.0,1112484676\n"
                        "3,131,0.5,1112484819\n", "ascii"),
        "movies.csv": ("movieId,title,genres\n"
                       "2,Jumanji (1995),Adventure|Children|Fantasy\n"
                       "29,\"City of Lost Children, The (Cité des enfants "
                       "perdus, La) (1995)\",Adventure|Drama|Fantasy\n"
                       "131,\"Say \"\"Hi\"\", Bob (2015)\","
                       "(no genres listed)\n", "utf-8"),
    },
    "recbole": {
        "ml-100k.inter": ("user_id:token\titem_id:token\trating:float\t"
                          "timestamp:float\n"
                          "196\t242\t3\t881250949\n"
                          "186\t302\t3\t891717742\n", "ascii"),
        "ml-100k.item": ("item_id:token\tmovie_title:token_seq\t"
                         "release_year:token\tclass:token_seq\n"
                         "242\tKolya\t1996\tComedy\n"
                         "302\tL.A. Confidential\t1997\t"
                         "Crime Film-Noir Mystery Thriller\n"
                         "1\tToy Story\t1995\tAnimation Children's Comedy\n",
                         "utf-8"),
    },
}

EXPECTED_ROWS = {
    "ml-100k": [
        (1, 10, 4.0, 881250949, "Comedy|Romance"),
        (1, 20, 3.0, 881250950, "unknown"),
        (2, 10, 5.0, 881250951, "Comedy|Romance"),
    ],
    "ml-1m": [
        (1, 1193, 5.0, 978300760, "Drama"),
        (1, 661, 3.0, 978302109, "Animation|Children's|Musical"),
        (2, 1193, 4.0, 978298413, "Drama"),
    ],
    "ml-10m": [
        (1, 122, 5.0, 838985046, "Comedy|Romance"),
        (1, 8606, 3.5, 838983525, ""),
        (3, 122, 0.5, 1136075494, "Comedy|Romance"),
    ],
    "ml-20m": [
        (1, 2, 3.5, 1112486027, "Adventure|Children's|Fantasy"),
        (1, 29, 4.0, 1112484676, "Adventure|Drama|Fantasy"),
        (3, 131, 0.5, 1112484819, ""),
    ],
    "recbole": [
        (196, 242, 3.0, 881250949, "Comedy"),
        (186, 302, 3.0, 891717742, "Crime|Film-Noir|Mystery|Thriller"),
    ],
}

EXPECTED_TITLES = {
    "ml-100k": {10: "Amélie (2001)", 20: "unknown", 30: "Toy Story (1995)"},
    "ml-1m": {1193: "One Flew Over the Cuckoo's Nest (1975)",
              661: "James and the Giant Peach (1996)",
              3: "Star Wars: Episode IV - A New Hope (1977)",
              4: "Léon (1994)"},
    "ml-10m": {122: "Boomerang (1992)", 8606: "Pull My Daisy (1958)",
               2: "Jumanji (1995)", 3: "Fantasia 2000 (1999)"},
    "ml-20m": {2: "Jumanji (1995)",
               29: "City of Lost Children, The (Cité des enfants perdus, "
                   "La) (1995)",
               131: 'Say "Hi", Bob (2015)'},
    "recbole": {242: "Kolya", 302: "L.A. Confidential", 1: "Toy Story"},
}


def write_folder(folder: Path, layout: str,
                 replace: Optional[Dict[str, str]] = None) -> Path:
    """A good `layout` folder, with files in `replace` overwritten
    (None as content: file left out)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {name: text for name, (text, _) in GOOD[layout].items()}
    files.update(replace or {})
    for name, text in files.items():
        if text is not None:
            encoding = GOOD[layout].get(name, ("", "utf-8"))[1]
            (folder / name).write_bytes(text.encode(encoding))
    return folder


# The layout each folder is detected as: ml-10m's files are ml-1m's.
DETECTED = {"ml-10m": "ml-1m"}


@pytest.mark.parametrize("layout", sorted(GOOD))
def test_parses_each_layout_exactly(tmp_path, layout):
    data = load_movielens(write_folder(tmp_path / layout, layout))
    assert data.layout == DETECTED.get(layout, layout)
    assert list(data.ratings.columns) == list(CSV_COLUMNS)
    assert [str(dtype) for dtype in data.ratings.dtypes] == [
        "int64", "int64", "float64", "int64", "object"]
    rows = list(data.ratings.itertuples(index=False, name=None))
    assert rows == EXPECTED_ROWS[layout]
    assert data.titles() == EXPECTED_TITLES[layout]


def test_items_keep_genres_of_unrated_items(tmp_path):
    data = load_movielens(write_folder(tmp_path, "ml-1m"))
    genres = dict(zip(data.items["item_id"], data.items["genres"]))
    assert genres[3] == "Action|Adventure|Fantasy|Sci-Fi"
    assert genres[4] == "Crime|Drama"


def test_ml10m_genres_are_respelled(tmp_path):
    data = load_movielens(write_folder(tmp_path, "ml-10m"))
    genres = dict(zip(data.items["item_id"], data.items["genres"]))
    assert genres[2] == "Adventure|Children's|Fantasy"
    assert genres[3] == "Animation|Children's|IMAX|Musical"
    assert genres[8606] == ""


def test_windows_line_endings_are_accepted(tmp_path):
    replace = {name: text.replace("\n", "\r\n")
               for name, (text, _) in GOOD["ml-20m"].items()}
    data = load_movielens(write_folder(tmp_path, "ml-20m", replace))
    rows = list(data.ratings.itertuples(index=False, name=None))
    assert rows == EXPECTED_ROWS["ml-20m"]


def test_convert_writes_exact_files(tmp_path):
    source = write_folder(tmp_path / "src", "ml-20m")
    ratings_csv, items_csv, data = convert_folder(source,
                                                  tmp_path / "out" / "ml")
    assert ratings_csv == tmp_path / "out" / "ml" / "ratings.csv"
    assert items_csv == tmp_path / "out" / "ml-items.csv"
    assert sorted(p.name for p in ratings_csv.parent.iterdir()) == [
        "ratings.csv"]
    assert ratings_csv.read_text() == (
        "user_id,item_id,rating,timestamp,genres\n"
        "1,2,3.5,1112486027,Adventure|Children's|Fantasy\n"
        "1,29,4.0,1112484676,Adventure|Drama|Fantasy\n"
        "3,131,0.5,1112484819,\n")
    assert items_csv.read_text(encoding="utf-8") == (
        "item_id,title,genres\n"
        "2,Jumanji (1995),Adventure|Children's|Fantasy\n"
        "29,\"City of Lost Children, The (Cité des enfants perdus, La) "
        "(1995)\",Adventure|Drama|Fantasy\n"
        "131,\"Say \"\"Hi\"\", Bob (2015)\",\n")
    assert len(data.ratings) == 3


def test_writer_refuses_directory_with_other_files(tmp_path):
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "notes.txt").write_text("x")
    data = load_movielens(write_folder(tmp_path / "src", "ml-1m"))
    with pytest.raises(DataError, match="notes.txt"):
        write_pipeline_csv(data.ratings, tmp_path / "ds")


def test_writer_leaves_no_temporary_files(tmp_path):
    data = load_movielens(write_folder(tmp_path / "src", "ml-1m"))
    write_pipeline_csv(data.ratings, tmp_path / "out" / "ds")
    write_pipeline_csv(data.ratings, tmp_path / "out" / "ds")  # replaces
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["ds"]
    assert [p.name for p in (tmp_path / "out" / "ds").iterdir()] == [
        "ratings.csv"]


def test_unknown_folder_and_ambiguous_folder(tmp_path):
    with pytest.raises(DataError, match="folder not found"):
        detect_layout(tmp_path / "nope")
    with pytest.raises(DataError, match="no MovieLens ratings file"):
        detect_layout(tmp_path)
    write_folder(tmp_path, "ml-1m")
    write_folder(tmp_path, "ml-20m")
    with pytest.raises(DataError, match="more than one ratings file"):
        detect_layout(tmp_path)


# (case id, layout, file, new content, line, column, message fragment)
BAD_INPUTS = [
    ("u.data too few fields", "ml-100k", "u.data",
     "1\t10\t4\t881250949\n1\t20\t3\n", 2, "timestamp",
     "expected 4 fields separated by '\\t', found 3"),
    ("u.data too many fields", "ml-100k", "u.data",
     "1\t10\t4\t881250949\t7\n", 1, None, "found 5"),
    ("u.data blank line", "ml-100k", "u.data",
     "1\t10\t4\t881250949\n\n2\t10\t5\t881250951\n", 2, None, "empty line"),
    ("u.data non-integer user", "ml-100k", "u.data",
     "1\t10\t4\t881250949\nu2\t10\t5\t881250951\n", 2, "user_id",
     "'u2' is not an integer"),
    ("u.data fractional item", "ml-100k", "u.data",
     "1\t10\t4\t881250949\n2\t10.5\t5\t881250951\n", 2, "item_id",
     "10.5 is not an integer"),
    ("u.data rating above max", "ml-100k", "u.data",
     "1\t10\t4\t881250949\n2\t10\t6\t881250951\n", 2, "rating",
     "rating 6 is outside [0.5, 5]"),
    ("u.data rating zero", "ml-100k", "u.data",
     "1\t10\t0\t881250949\n", 1, "rating", "rating 0 is outside"),
    ("u.data empty rating", "ml-100k", "u.data",
     "1\t10\t4\t881250949\n2\t10\t\t881250951\n", 2, "rating",
     "missing value"),
    ("u.data duplicate pair", "ml-100k", "u.data",
     "1\t10\t4\t881250949\n2\t10\t5\t881250951\n1\t10\t3\t881250952\n", 3,
     "item_id", "duplicate rating of item 10 by user 1 (first on line 1)"),
    ("u.data unknown item", "ml-100k", "u.data",
     "1\t10\t4\t881250949\n1\t99\t3\t881250950\n", 2, "item_id",
     "item 99 is not in u.item"),
    ("u.data empty", "ml-100k", "u.data", "", None, None, "file is empty"),
    ("u.item missing", "ml-100k", "u.item", None, None, None,
     "file not found"),
    ("u.item too few fields", "ml-100k", "u.item",
     u_item_line(10, "A", "Comedy") + "20|B|01-Jan-1995||url|0|1\n", 2,
     "genre Adventure", "expected 24 fields separated by '|', found 7"),
    ("u.item bad flag", "ml-100k", "u.item",
     u_item_line(10, "A", "Comedy").replace("|1|", "|x|"), 1,
     "genre Comedy", "genre flag 'x' is not 0 or 1"),
    ("u.item duplicate item", "ml-100k", "u.item",
     u_item_line(10, "A", "Comedy") + u_item_line(20, "B")
     + u_item_line(10, "C"), 3, "item_id",
     "duplicate item 10 (first on line 1)"),
    ("ratings.dat non-numeric rating", "ml-1m", "ratings.dat",
     "1::1193::5::978300760\n1::661::abc::978302109\n", 2, "rating",
     "'abc' is not a number"),
    ("ratings.dat fractional timestamp", "ml-1m", "ratings.dat",
     "1::1193::5::978300760.5\n", 1, "timestamp",
     "978300760.5 is not an integer"),
    ("ratings.dat text timestamp", "ml-1m", "ratings.dat",
     "1::1193::5::978300760\n1::661::3::soon\n", 2, "timestamp",
     "'soon' is not an integer"),
    ("ratings.dat too few fields", "ml-1m", "ratings.dat",
     "1::1193::5::978300760\n1::661::3\n", 2, "timestamp",
     "expected 4 fields separated by '::', found 3"),
    ("ratings.dat single colon", "ml-1m", "ratings.dat",
     "1::1193::5::978300760\n1:661::3:::978302109\n", 2, None,
     "fields must be separated by '::'"),
    ("ratings.dat colons split across fields", "ml-1m", "ratings.dat",
     "1::1193::5::978300760\n1:::661:3::978302109\n", 2, None,
     "fields must be separated by '::'"),
    ("ratings.dat above 5 in 10m files", "ml-10m", "ratings.dat",
     "1::122::5::838985046\n1::8606::4.5::838983525\n"
     "3::122::5.5::1136075494\n", 3, "rating",
     "rating 5.5 is outside [0.5, 5]"),
    ("ratings.dat earliest problem wins", "ml-1m", "ratings.dat",
     "1::1193::5::978300760\n1::661::3::x\nz::1193::4::978298413\n", 2,
     "timestamp", "'x' is not an integer"),
    ("movies.dat unknown genre", "ml-1m", "movies.dat",
     "1193::Cuckoo::Drama\n661::Peach::Animation|Cartoon\n", 2, "genres",
     "unknown genre 'Cartoon' (known: Action, Adventure"),
    ("movies.dat too few fields", "ml-1m", "movies.dat",
     "1193::Cuckoo::Drama\n661::Peach\n", 2, "genres",
     "expected 3 fields separated by '::', found 2"),
    ("movies.dat non-integer id", "ml-1m", "movies.dat",
     "1193::Cuckoo::Drama\nM661::Peach::Animation\n", 2, "item_id",
     "'M661' is not an integer"),
    ("movies.dat empty", "ml-1m", "movies.dat", "", None, None,
     "file is empty"),
    ("ratings.csv missing column", "ml-20m", "ratings.csv",
     "userId,movieId,timestamp\n1,2,1112486027\n", 1, "rating",
     "missing column 'rating' in header"),
    ("ratings.csv too few fields", "ml-20m", "ratings.csv",
     "userId,movieId,rating,timestamp\n1,2,3.5,1112486027\n1,29,4.0\n", 3,
     "timestamp", "expected 4 fields separated by ',', found 3"),
    ("ratings.csv header only", "ml-20m", "ratings.csv",
     "userId,movieId,rating,timestamp\n", None, None, "no data rows"),
    ("ratings.csv NA rating", "ml-20m", "ratings.csv",
     "userId,movieId,rating,timestamp\n1,2,NA,1112486027\n", 2, "rating",
     "'NA' is not a number"),
    ("ratings.csv duplicate pair", "ml-20m", "ratings.csv",
     "userId,movieId,rating,timestamp\n1,2,3.5,1\n1,29,4,2\n1,2,4,3\n", 4,
     "movieId", "duplicate rating of item 2 by user 1 (first on line 2)"),
    ("ratings.csv unknown item", "ml-20m", "ratings.csv",
     "userId,movieId,rating,timestamp\n1,2,3.5,1\n1,7,4,2\n", 3, "movieId",
     "item 7 is not in movies.csv"),
    ("movies.csv missing column", "ml-20m", "movies.csv",
     "movieId,title\n2,Jumanji\n", 1, "genres",
     "missing column 'genres' in header"),
    ("movies.csv unknown genre", "ml-20m", "movies.csv",
     "movieId,title,genres\n2,Jumanji (1995),Adventure|Kids\n", 2,
     "genres", "unknown genre 'Kids'"),
    ("movies.csv too few fields", "ml-20m", "movies.csv",
     "movieId,title,genres\n2,Jumanji (1995)\n", 2, "genres",
     "expected 3 fields separated by ',', found 2"),
    ("ml-100k.inter missing column", "recbole", "ml-100k.inter",
     "user_id:token\titem_id:token\ttimestamp:float\n196\t242\t1\n", 1,
     "rating:float", "missing column 'rating:float' in header"),
    ("ml-100k.inter bad rating", "recbole", "ml-100k.inter",
     "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
     "196\t242\t3\t881250949\n186\t302\t3,5\t891717742\n", 3,
     "rating:float", "'3,5' is not a number"),
    ("ml-100k.item unknown genre", "recbole", "ml-100k.item",
     "item_id:token\tmovie_title:token_seq\trelease_year:token\t"
     "class:token_seq\n242\tKolya\t1996\tComedy\n"
     "302\tL.A. Confidential\t1997\tCrime Noir\n", 3, "class:token_seq",
     "unknown genre 'Noir'"),
    ("ml-100k.item too few fields", "recbole", "ml-100k.item",
     "item_id:token\tmovie_title:token_seq\trelease_year:token\t"
     "class:token_seq\n242\tKolya\t1996\n", 2, "class:token_seq",
     "expected 4 fields separated by '\\t', found 3"),
]


@pytest.mark.parametrize(
    "layout,name,content,line,column,fragment",
    [case[1:] for case in BAD_INPUTS], ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_is_located(tmp_path, layout, name, content, line, column,
                              fragment):
    folder = write_folder(tmp_path, layout, {name: content})
    with pytest.raises(DataError) as caught:
        load_movielens(folder)
    error = caught.value
    assert Path(error.path).name == name
    assert (error.line, error.column) == (line, column)
    assert fragment in error.message
    where = str(folder / name)
    if line is not None:
        where += f" line {line}"
    if column is not None:
        where += f"{',' if line is not None else ''} column {column}"
    assert str(error) == f"{where}: {error.message}"


def test_error_string_format():
    error = DataError("ratings.dat", "'abc' is not a number", 17, "rating")
    assert str(error) == "ratings.dat line 17, column rating: 'abc' is not " \
        "a number"
    assert isinstance(error, ValueError)
    assert str(DataError("u.data", "file is empty")) == \
        "u.data: file is empty"


def test_big_file_is_parsed_across_scan_chunks(tmp_path, monkeypatch):
    """The field-count scan works in chunks; a bad line right after a chunk
    border must still be found with its exact number."""
    import movielens_data.tables as tables
    monkeypatch.setattr(tables, "_CHUNK_BYTES", 64)
    lines = [f"{user}\t10\t4\t881250949\n" for user in range(1, 40)]
    lines[30] = "31\t10\t4\n"
    folder = write_folder(tmp_path, "ml-100k", {"u.data": "".join(lines)})
    with pytest.raises(DataError) as caught:
        load_movielens(folder)
    assert (caught.value.line, caught.value.column) == (31, "timestamp")
    lines[30] = "31\t10\t4\t881250949"  # last line, no newline: fine
    folder = write_folder(tmp_path, "ml-100k",
                          {"u.data": "".join(lines[:31])})
    assert len(load_movielens(folder).ratings) == 31
    pd.testing.assert_series_equal(
        load_movielens(folder).ratings["user_id"],
        pd.Series(range(1, 32), name="user_id", dtype="int64"))


def test_separator_runs_are_checked_across_scan_chunks(tmp_path,
                                                       monkeypatch):
    """'::' pairs are checked in the byte scan, chunk by chunk: a split pair
    right after a chunk border is found with its exact line."""
    import movielens_data.tables as tables
    monkeypatch.setattr(tables, "_CHUNK_BYTES", 50)
    lines = [f"{user}::1193::5::978300760\n" for user in range(1, 40)]
    lines[22] = "23:::1193:5::978300760\n"
    folder = write_folder(tmp_path, "ml-1m",
                          {"ratings.dat": "".join(lines)})
    with pytest.raises(DataError) as caught:
        load_movielens(folder)
    assert caught.value.line == 23
    assert caught.value.message == "fields must be separated by '::'"
    lines[22] = "23::1193::5::978300760"  # last line, no newline: fine
    folder = write_folder(tmp_path, "ml-1m",
                          {"ratings.dat": "".join(lines[:23])})
    assert load_movielens(folder).ratings["user_id"].tolist() == list(
        range(1, 24))
