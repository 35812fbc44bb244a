"""The one exception type for every problem found in input data."""
import os
from typing import Optional, Union

PathLike = Union[str, "os.PathLike[str]"]


class DataError(ValueError):
    """A problem in a data file, located by file, line and column.

    `str()` reads like
    ``ratings.dat line 17, column rating: 'abc' is not a number``;
    the parts that are unknown (line, column) are left out.
    """

    def __init__(self, path: PathLike, message: str,
                 line: Optional[int] = None,
                 column: Optional[str] = None) -> None:
        self.path = os.fspath(path)
        self.message = message
        self.line = line
        self.column = column
        super().__init__(self._format())

    def _format(self) -> str:
        where = self.path
        if self.line is not None:
            where += f" line {self.line}"
        if self.column is not None:
            where += ("," if self.line is not None else "") + \
                f" column {self.column}"
        return f"{where}: {self.message}"

    def __reduce__(self):
        # ValueError pickles only args; keep the located fields intact.
        return (type(self), (self.path, self.message, self.line, self.column))
