"""The ``repwatch`` command: :mod:`monitor.cli.parser` builds the command line, one module
per group of commands does the work (:mod:`~monitor.cli.run`, :mod:`~monitor.cli.sources`,
:mod:`~monitor.cli.mentions`, :mod:`~monitor.cli.incidents`, :mod:`~monitor.cli.delivery`,
:mod:`~monitor.cli.sentiment`, :mod:`~monitor.cli.config`, :mod:`~monitor.cli.db`,
:mod:`~monitor.cli.demo`) and :mod:`monitor.cli.entry` runs it.

Exit codes: 0 success, 1 runtime failure (storage, model, delivery), 2 invalid config or
usage.
"""
from monitor.cli.entry import main
from monitor.cli.parser import build_parser

__all__ = ["build_parser", "main"]
