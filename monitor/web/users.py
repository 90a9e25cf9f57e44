"""Dashboard users: a JSON file of names, roles and argon2 password hashes.

The file (``[web] users_file``, default ``repwatch-users.json`` beside the SQLite database)
is written by ``repwatch user add`` and read again by the daemon whenever it changes, so a
user added while the daemon runs can sign in at once. It is written whole to a temporary
file and renamed (never half-written), with mode 0600. Roles: ``viewer`` reads,
``responder`` also acknowledges, resolves and silences, ``admin`` may do everything.

The key that signs session cookies is ``REPWATCH_WEB_SECRET`` when set, else a random one
generated once and kept in ``repwatch-web-secret`` beside the users file (mode 0600).
"""
from __future__ import annotations

import json
import logging
import os
import re
import secrets
import threading
from dataclasses import dataclass, replace
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from monitor.errors import RepwatchError

log = logging.getLogger("repwatch.http")

ROLES = ("viewer", "responder", "admin")
NAME_RE = re.compile(r"^[\w.@-]{1,64}$")
SECRET_ENV = "REPWATCH_WEB_SECRET"
SECRET_FILE = "repwatch-web-secret"
MIN_PASSWORD = 10


class UserError(RepwatchError):
    """A user that cannot be added (bad name, role or password)."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    password_hash: str = ""
    language: str | None = None  # the viewer's choices (/settings); None: from the browser
    zone: str | None = None

    def may(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


def users_file(config) -> Path:
    """Where the config's users live."""
    from monitor.config.web import default_users_file  # lazy: `repwatch --version` need not load the config code

    if config.web.users_file:
        return Path(config.web.users_file)
    return default_users_file(config.storage.url, config.path)


class Users:
    """The users in ``path``; :meth:`get` and :meth:`verify` see the file as it is now."""

    def __init__(self, path: str | os.PathLike, hasher: PasswordHasher | None = None):
        self.path = Path(path)
        self.hasher = hasher or PasswordHasher()  # argon2id, the library's (RFC 9106) parameters
        self._dummy = ""  # verified for unknown names, so they cost the same (made on first use)
        self._lock = threading.Lock()
        self._seen: tuple[float, int] | None = None
        self._users: dict[str, User] = {}

    def _load(self) -> dict[str, User]:
        with self._lock:
            try:
                st = self.path.stat()
            except FileNotFoundError:
                self._seen, self._users = None, {}
                return self._users
            if self._seen != (st.st_mtime, st.st_size):
                raw = json.loads(self.path.read_text(encoding="utf-8") or "{}")
                self._users = {name: User(name, u["role"], u["hash"], u.get("language"), u.get("zone"))
                               for name, u in raw.get("users", {}).items() if u.get("role") in ROLES}
                self._seen = (st.st_mtime, st.st_size)
            return self._users

    def get(self, name: str | None) -> User | None:
        return self._load().get(name or "")

    def all(self) -> list[User]:
        return sorted(self._load().values(), key=lambda u: u.name)

    def verify(self, name: str, password: str) -> User | None:
        """The user when the password is theirs; None otherwise (unknown names cost the same)."""
        user = self.get(name)
        if user is None and not self._dummy:
            self._dummy = self.hasher.hash(secrets.token_hex(8))
        try:
            self.hasher.verify(user.password_hash if user else self._dummy, password)
        except (VerificationError, InvalidHashError):
            return None
        return user

    def add(self, name: str, password: str, role: str) -> User:
        """Add ``name`` (or replace its password and role)."""
        if not NAME_RE.match(name or ""):
            raise UserError(f"user name must be 1-64 letters, digits or . _ @ -, got {name!r}")
        if role not in ROLES:
            raise UserError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        if len(password) < MIN_PASSWORD:
            raise UserError(f"the password must be at least {MIN_PASSWORD} characters")
        old = self.get(name)
        user = User(name, role, self.hasher.hash(password), old.language if old else None, old.zone if old else None)
        self._write({**self._load(), name: user})
        return user

    def set_preferences(self, name: str, language: str | None, zone: str | None) -> None:
        users = self._load()
        if name in users:
            self._write({**users, name: replace(users[name], language=language, zone=zone)})

    def _write(self, users: dict[str, User]) -> None:
        data = {"users": {u.name: {"role": u.role, "hash": u.password_hash, "language": u.language, "zone": u.zone}
                          for u in sorted(users.values(), key=lambda u: u.name)}}
        write_private(self.path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600, whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def session_secret(users_path: Path, env: dict | None = None) -> str:
    """``REPWATCH_WEB_SECRET``, else the generated secret beside the users file (kept in memory
    only, with a warning, when that folder cannot be written)."""
    env = os.environ if env is None else env
    if env.get(SECRET_ENV):
        return env[SECRET_ENV]
    path = users_path.with_name(SECRET_FILE)
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        pass
    secret = secrets.token_urlsafe(32)
    try:
        write_private(path, secret + "\n")
    except OSError as exc:  # a read-only folder: sign-ins then last until a restart
        log.warning("cannot keep the session key in %s (%s): sessions end when the daemon restarts; set %s or "
                    "[web] users_file in a writable folder", path, exc, SECRET_ENV)
    return secret
