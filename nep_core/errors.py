"""Errors raised for bad input: each names *where* (file and/or variable) and *what* is wrong."""
from __future__ import annotations

import os
import sys
import tempfile
import warnings


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


class NepEnvironmentError(Exception):
    """The machine cannot do what a run needs: the output directory is a file or not writable, the
    disk is full. The message names the path (and the stage) and what to change."""


class NepWarning(UserWarning):
    """Something nep_core recovered from and the user should know about (a damaged cache file that
    is recomputed, a fallback directory, a wait on another run's lock)."""


def warn(message: str):
    """Issue ``message`` as a :class:`NepWarning`; shown as one line ``nep: warning: <message>``."""
    warnings.warn(message, NepWarning, stacklevel=2)


class NepInputWarning(NepWarning):
    """Input used with a caveat the user must see: stations dropped, a class absent, a relaxed check."""


def warn_input(problem: str, *, file=None, variable: str | None = None):
    """Warn (:class:`NepInputWarning`) in the words of :class:`NepInputError`: file, variable, problem."""
    warnings.warn(str(NepInputError(problem, file=file, variable=variable)), NepInputWarning, stacklevel=3)


def _show(message, category, filename, lineno, file=None, line=None, _default=warnings.showwarning):
    if issubclass(category, NepWarning):
        print(f"nep: warning: {message}", file=file or sys.stderr, flush=True)
    else:
        _default(message, category, filename, lineno, file, line)


#: NepWarnings print as ``nep: warning: ...``; every other warning as before
warnings.showwarning = _show


def write_error(directory) -> OSError | None:
    """Why no file can be created in ``directory`` (made if missing), or None when one can: tried, not
    guessed from permission bits (root passes those checks on a read-only mount)."""
    try:
        os.makedirs(directory, exist_ok=True)
        tempfile.TemporaryFile(dir=directory).close()
    except OSError as exc:
        return exc
    return None
