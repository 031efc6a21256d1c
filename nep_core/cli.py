"""The ``nep`` command: a thin layer over ``nep_core.pipeline`` and ``nep_core.book``.

    nep run [--config FILE] [--out DIR] [--resolution M] [--scheduler ADDRESS] [--timings]
    nep scenario [--out DIR] [--resolution M]
    nep book [--out DIR]

Benchmarks are scripts outside the package: ``python -m benchmarks.bench_stats`` (see benchmarks/).
"""
from __future__ import annotations

import argparse
import errno
import math
import sys

from .errors import NepEnvironmentError, NepInputError

#: OS errors that are the machine's state, not a bug: reported in one line, without a traceback
_ENVIRONMENT_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.ENOTDIR,
                       errno.EISDIR, errno.EEXIST}


def _message(exc: BaseException) -> str | None:
    """The one-line message for an error the user can fix; None for anything else (a bug: its
    traceback is shown)."""
    if isinstance(exc, (NepInputError, NepEnvironmentError)):
        return str(exc)
    if isinstance(exc, OSError) and exc.errno in _ENVIRONMENT_ERRNOS:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else str(exc)
    return None


def _metres(text: str) -> float:
    """``--resolution``: a positive, finite number of metres (0 is an error, not the default)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of metres") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text!r}: the resolution must be a positive number of metres")
    return value


def _config(args):
    from .config import load_config

    cfg = load_config(args.config)
    options = {"out": "out_dir", "resolution": "resolution_m", "scheduler": "scheduler"}
    changes = {key: getattr(args, opt) for opt, key in options.items()
               if getattr(args, opt, None) is not None}         # `nep scenario` has no --scheduler
    return cfg.replace(**changes).validate() if changes else cfg


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="nep", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="TOML or YAML config file (see nep_core/config.py)")
    common.add_argument("--out", help="output directory (default: config out_dir, 'results')")
    common.add_argument("--resolution", type=_metres, help="analysis grid resolution in metres")
    run = sub.add_parser("run", parents=[common],
                         help="run the whole pipeline (default: embedded synthetic scenario)")
    run.add_argument("--scheduler", help="dask.distributed scheduler address")
    run.add_argument("--timings", action="store_true", help="print per-stage wall times")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    sub.add_parser("scenario", parents=[common], help="build the synthetic scenario only")

    book = sub.add_parser("book", help="run the pipeline (cached) and build the book into _book/")
    book.add_argument("--out", default="_book")

    args = parser.parse_args(argv)
    try:
        if args.command == "book":
            from . import book as book_mod

            book_mod.build(out_dir=args.out)
        elif args.command == "scenario":
            from . import pipeline

            print(pipeline.scenario(_config(args)))
        else:
            from . import pipeline

            res = pipeline.run(_config(args), progress=not args.no_progress)
            print(f"results: {res.path}")
            if args.timings:
                print(pipeline.format_timings(res.timings, res.peak_rss))
                print(f"cache hits: {', '.join(res.cache_hits) or '-'}; recomputed: "
                      f"{', '.join(res.cache_misses) or '-'}")
    except Exception as exc:
        message = _message(exc)
        if message is None:
            raise
        print(f"nep: error: {message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
