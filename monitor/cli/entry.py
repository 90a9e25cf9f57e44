"""The ``repwatch`` entry point: parse, set up logging, run the command, map errors to
exit codes: 0 success, 1 runtime failure (storage, model, delivery), 2 invalid config or
usage, 130 interrupted, 141 the reader of the output went away (``repwatch sources | head``:
quietly, as a shell's own tools end on SIGPIPE)."""
from __future__ import annotations

import os
import sys

from monitor.cli.parser import build_parser
from monitor.logs import setup_logging
from monitor.errors import ConfigError, RepwatchError


SIGPIPE_EXIT = 141  # 128 + SIGPIPE, what a shell reports for a pipeline's writer whose reader left


def main(argv: list[str] | None = None) -> int:
    try:
        code = _run(argv)
        sys.stdout.flush()  # a pipe's buffered tail is written here, inside the guard
        return code
    except BrokenPipeError:
        # The reader closed the pipe. Point stdout at devnull so the interpreter's own flush at
        # exit has nowhere to fail, and leave without a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return SIGPIPE_EXIT


def _run(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level)
    try:
        return args.func(args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    except RepwatchError as exc:  # storage, model, delivery
        print(f"repwatch: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
