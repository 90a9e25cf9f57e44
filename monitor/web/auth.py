"""Sign-in, roles, CSRF and the viewer's language and zone.

* Sessions are signed cookies (Starlette's SessionMiddleware, itsdangerous), valid 12 h,
  SameSite=Lax, HttpOnly, Secure when ``[web] behind_tls_proxy``. A session holds the user
  name and its CSRF token; the user is looked up again on every request, so a removed user
  is out at once.
* Every state-changing POST reads its form through :func:`checked_form`: without the
  session's CSRF token (form field ``csrf`` or header ``X-CSRF-Token``) it is 403. The
  ack link is the exception: its signed token is the credential (:mod:`monitor.web.ops`).
* Login attempts: after ``MAX_FAILURES`` failures for one client address and user name
  within ``FAILURE_WINDOW`` seconds, further attempts get 429 until the window has passed.
* The JSON API also takes ``Authorization: Bearer <token>`` with the token in
  ``REPWATCH_API_TOKEN`` (read-only, as a viewer).
"""
from __future__ import annotations

import hmac
import os
import secrets
import threading
import time
from collections import deque
from urllib.parse import parse_qs, quote

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from monitor.web.i18n import LANGUAGES, pick_language, t, zone_or_default
from monitor.web.users import User

API_TOKEN_ENV = "REPWATCH_API_TOKEN"
MAX_FAILURES = 5
FAILURE_WINDOW = 900.0
SESSION_AGE = 12 * 3600


class LoginRequired(Exception):
    """No signed-in user: pages redirect to /login, the API answers 401."""


class LoginLimiter:
    """Failed sign-ins per (client address, user name) in a sliding window."""

    def __init__(self, max_failures: int = MAX_FAILURES, window: float = FAILURE_WINDOW, clock=time.monotonic):
        self.max_failures, self.window, self.clock = max_failures, window, clock
        self._failures: dict[tuple[str, str], deque] = {}
        self._lock = threading.Lock()

    def wait(self, key: tuple[str, str]) -> int:
        """Seconds until ``key`` may try again (0: now)."""
        with self._lock:
            recent = self._recent(key)
            if len(recent) < self.max_failures:
                return 0
            return max(1, int(recent[0] + self.window - self.clock()) + 1)

    def failed(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._recent(key).append(self.clock())

    def succeeded(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def _recent(self, key: tuple[str, str]) -> deque:
        recent = self._failures.setdefault(key, deque())
        while recent and recent[0] <= self.clock() - self.window:
            recent.popleft()
        return recent


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(24)
    return token


async def checked_form(request: Request) -> dict[str, str]:
    """The POST's form fields (first value of each); 403 unless it carries the session's CSRF token."""
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace"),
                                          keep_blank_values=True).items()}
    sent = form.get("csrf") or request.headers.get("x-csrf-token", "")
    expected = request.session.get("csrf", "")
    if not expected or not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise HTTPException(403, "CSRF token missing or wrong: reload the page and try again")
    return form


def current_user(request: Request) -> User | None:
    users = request.app.state.users
    user = users.get(request.session.get("user"))
    if user is not None:
        return user
    token = os.environ.get(API_TOKEN_ENV, "")
    sent = request.headers.get("authorization", "")
    if token and sent.startswith("Bearer ") and hmac.compare_digest(sent[7:].encode(), token.encode()):
        return User("api-token", "viewer")
    return None


def require(request: Request, role: str = "viewer") -> User:
    """The signed-in user; LoginRequired when there is none, 403 when their role is below ``role``."""
    user = current_user(request)
    if user is None:
        raise LoginRequired()
    if not user.may(role):
        raise HTTPException(403, f"this needs the {role} role")
    return user


def viewer_context(request: Request, user: User | None) -> dict:
    """What every page's template needs: language, zone, CSRF token, user."""
    language = pick_language(user.language if user else request.session.get("language"),
                             request.headers.get("accept-language", ""))
    return {"language": language, "zone": zone_or_default(user.zone if user else None, language),
            "csrf": csrf_token(request), "user": user}


def render(request: Request, template: str, user: User | None, status: int = 200, **values) -> Response:
    return request.app.state.templates.TemplateResponse(request, template, {**viewer_context(request, user),
                                                                            **values}, status_code=status)


def _safe_next(target: str | None) -> str:
    return target if target and target.startswith("/") and not target.startswith("//") else "/"


async def login_form(request: Request) -> Response:
    return render(request, "login.html", None, next=_safe_next(request.query_params.get("next")), error="")


async def login(request: Request) -> Response:
    form = await checked_form(request)
    name, password = form.get("name", "").strip(), form.get("password", "")
    key = (request.client.host if request.client else "?", name.lower())
    limiter: LoginLimiter = request.app.state.login_limiter
    language = viewer_context(request, None)["language"]
    wait = limiter.wait(key)
    if wait:
        response = render(request, "login.html", None, 429, next=_safe_next(form.get("next")),
                          error=t(language, "login.limited", seconds=wait))
        response.headers["Retry-After"] = str(wait)
        return response
    user = await run_in_threadpool(request.app.state.users.verify, name, password)
    if user is None:
        limiter.failed(key)
        return render(request, "login.html", None, 401, next=_safe_next(form.get("next")),
                      error=t(language, "login.failed"))
    limiter.succeeded(key)
    request.session.clear()  # a new session for the signed-in user (no fixation)
    request.session.update({"user": user.name, "csrf": secrets.token_urlsafe(24)})
    return RedirectResponse(_safe_next(form.get("next")), status_code=303)


async def logout(request: Request) -> Response:
    await checked_form(request)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


async def settings_form(request: Request) -> Response:
    user = require(request)
    return render(request, "settings.html", user, languages=LANGUAGES, saved=False)


async def settings(request: Request) -> Response:
    user = require(request)
    form = await checked_form(request)
    language = form.get("language") if form.get("language") in LANGUAGES else None
    zone = zone_or_default(form.get("zone", "").strip(), language or "en") if form.get("zone", "").strip() else None
    await run_in_threadpool(request.app.state.users.set_preferences, user.name, language, zone)
    return RedirectResponse("/settings", status_code=303)


def login_redirect(request: Request, _exc: Exception) -> Response:
    if request.url.path.startswith("/api/"):
        return Response('{"error": "sign in, or send Authorization: Bearer <REPWATCH_API_TOKEN>"}', 401,
                        media_type="application/json")
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


ROUTES = [
    Route("/login", login_form, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/settings", settings_form, methods=["GET"]),
    Route("/settings", settings, methods=["POST"]),
]
