"""``completion bash|zsh|tcsh``: the shell completion script, written by shtab from the parser
itself, so every command and option the parser knows completes.

    repwatch completion bash > ~/.local/share/bash-completion/completions/repwatch
    repwatch completion zsh > "${fpath[1]}/_repwatch"
"""
from __future__ import annotations

import argparse

SHELLS = ("bash", "zsh", "tcsh")


def add_parser(sub, root: argparse.ArgumentParser) -> None:
    c = sub.add_parser("completion", help="print a shell completion script (bash, zsh or tcsh)")
    c.add_argument("shell", choices=SHELLS)
    c.set_defaults(func=cmd_completion, root=root)


def cmd_completion(args) -> int:
    import shtab

    print(shtab.complete(args.root, shell=args.shell))
    return 0
