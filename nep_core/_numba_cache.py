"""Where numba caches the compiled kernels: set ``NUMBA_CACHE_DIR`` before numba is imported.

numba writes its cache to ``NUMBA_CACHE_DIR`` when set, else next to the kernels' sources
(``__pycache__``), else under the user's cache directory (``$XDG_CACHE_HOME`` or ``~/.cache``); with
none of them writable, every ``cache=True`` kernel fails at import. Then (or when ``NUMBA_CACHE_DIR``
names a directory that cannot be written) the cache goes to a per-user temporary directory, with one
warning. Imported first by ``nep_core/__init__.py``.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import warn, write_error

KERNELS = Path(__file__).parent / "stats" / "_kernels"


def choose(env=os.environ) -> str | None:
    """Set ``env["NUMBA_CACHE_DIR"]`` to a temporary directory when numba has nowhere to write its
    cache; return that directory (None when nothing was changed)."""
    given = env.get("NUMBA_CACHE_DIR")
    if given:
        candidates, why = [given], f"NUMBA_CACHE_DIR={given} is not writable"
    else:
        user = Path(env.get("XDG_CACHE_HOME") or Path(env.get("HOME", "~")).expanduser() / ".cache")
        candidates = [KERNELS / "__pycache__", user / "numba"]
        why = f"neither {candidates[0]} nor {candidates[1]} (HOME={env.get('HOME')}) is writable"
    if any(write_error(d) is None for d in candidates):
        return None
    fallback = os.path.join(tempfile.gettempdir(), f"nep-numba-cache-{os.getuid()}")
    env["NUMBA_CACHE_DIR"] = fallback
    warn(f"{why}; numba caches the compiled kernels in {fallback} instead")
    return fallback


choose()
