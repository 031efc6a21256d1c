"""Errors raised for bad input.

Every error names *where* (file and/or variable) and *what* is wrong, so a user can fix the input
without reading a traceback.
"""
from __future__ import annotations


class NepInputError(ValueError):
    """Bad input: a file, variable or parameter that cannot be used as given.

    Parameters
    ----------
    problem : str
        What is wrong, in words a user can act on.
    file : str or os.PathLike, optional
        The file the problem was found in.
    variable : str, optional
        The variable (or column, band, parameter) the problem concerns.
    """

    def __init__(self, problem: str, *, file=None, variable: str | None = None):
        self.problem = problem
        self.file = None if file is None else str(file)
        self.variable = variable
        where = []
        if self.file is not None:
            where.append(f"file {self.file!r}")
        if variable is not None:
            where.append(f"variable {variable!r}")
        prefix = (", ".join(where) + ": ") if where else ""
        super().__init__(prefix + problem)


class NepConfigError(NepInputError):
    """A configuration file or parameter is invalid (unknown key, wrong type, out of range)."""
