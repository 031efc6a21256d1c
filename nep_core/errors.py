"""Errors raised for bad input: each names *where* (file and/or variable) and *what* is wrong."""
from __future__ import annotations


class NepInputError(ValueError):
    """Bad input: a file, variable or parameter that cannot be used as given.

    The message is ``"file 'F', variable 'V': problem"`` (either part omitted when not given).
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
