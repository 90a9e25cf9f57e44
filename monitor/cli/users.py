"""``repwatch user add NAME --role viewer|responder|admin`` and ``repwatch user list``: the
dashboard's users (:mod:`monitor.web.users`). The password is read from a prompt (asked
twice) or, when stdin is not a terminal, from its first line; never from the command line,
where other users of the machine and the shell history would see it."""
from __future__ import annotations

import getpass
import sys

from monitor.cli.common import load
from monitor.web.users import ROLES, UserError, Users, users_file


def _password() -> str | None:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        print("the passwords differ", file=sys.stderr)
        return None
    return first


def cmd_user(args) -> int:
    config = load(args.config, need_secrets=False, storage=False)
    users = Users(users_file(config))
    if args.user_command == "list":
        for u in users.all():
            print(f"{u.name:<24} {u.role}")
        print(f"({len(users.all())} users in {users.path})")
        return 0
    password = _password()
    if password is None:
        return 2
    try:
        user = users.add(args.name, password, args.role)
    except UserError as exc:
        print(f"repwatch user add: {exc}", file=sys.stderr)
        return 2
    print(f"user {user.name} ({user.role}) saved in {users.path}")
    return 0


def add_parsers(sub, cfg) -> None:
    s = sub.add_parser("user", help="dashboard users (sign-in for the web app)")
    ss = s.add_subparsers(dest="user_command", required=True)
    c = ss.add_parser("add", parents=[cfg], help="add a user, or set a user's password and role (the password is "
                      "prompted for, or read from stdin)")
    c.add_argument("name")
    c.add_argument("--role", choices=ROLES, default="viewer", help="viewer reads; responder also acknowledges, "
                   "resolves and silences; admin may do everything (default: viewer)")
    c.set_defaults(func=cmd_user)
    ss.add_parser("list", parents=[cfg], help="the users and their roles").set_defaults(func=cmd_user)
