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
        where = ", ".join(f"{what} {name!r}" for what, name in (("file", self.file), ("variable", variable))
                          if name is not None)
        super().__init__(f"{where}: {problem}" if where else problem)


class NepConfigError(NepInputError):
    """A configuration file or parameter is invalid (unknown key, wrong type, out of range)."""


class NepInputWarning(UserWarning):
    """Input used with a caveat the user must see: stations dropped, a class absent, a relaxed check."""


def warn_input(problem: str, *, file=None, variable: str | None = None):
    """Warn (:class:`NepInputWarning`) in the words of :class:`NepInputError`: file, variable, problem."""
    import warnings

    warnings.warn(str(NepInputError(problem, file=file, variable=variable)), NepInputWarning, stacklevel=3)
