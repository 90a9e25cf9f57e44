"""The ASGI app (Starlette, Jinja2 templates, no JavaScript build): :func:`create_app`.

Routes
  /healthz, /metrics, /ack/<token>    no sign-in (:mod:`monitor.web.ops`)
  /login, /logout, /settings          sign-in and the viewer's language and zone (:mod:`monitor.web.auth`)
  /, /mentions, /incidents/<id>, /silences, /sources
                                      pages (:mod:`monitor.web.pages`)
  /api/mentions, /api/incidents, /mentions.csv
                                      JSON and CSV (:mod:`monitor.web.api`)
  /mentions/<id>/reply, /mentions/<id>/reply/check
                                      reply drafts and the linter (:mod:`monitor.web.replies`)

Every template is autoescaped: review text, names and reasons are untrusted.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.templating import Jinja2Templates

from monitor.web import api, auth, ops, pages, replies
from monitor.web.i18n import local, t
from monitor.web.users import Users, session_secret, users_file

TEMPLATES = Path(__file__).parent / "templates"
SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"), (b"cache-control", b"no-store"),
                    # no script runs anywhere; forms post only here
                    (b"content-security-policy", b"default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
                                                 b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'")]


class _Headers:
    """ASGI middleware: the headers every answer carries (no caching: pages hold patient talk)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        async def sending(message):
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [h for h in SECURITY_HEADERS
                                                                          if h[0] not in present]
            await send(message)

        await self.app(scope, receive, sending if scope["type"] == "http" else send)


def create_app(app, *, healthz: Callable[[], tuple[int, dict]] | None = None,
               login_limiter: auth.LoginLimiter | None = None) -> Starlette:
    """The web app of one :class:`monitor.app.App`. ``healthz`` answers /healthz (the
    server passes its own, which knows whether the scheduler runs). Users and the session
    key come from the config (:mod:`monitor.web.users`)."""
    templates = Jinja2Templates(directory=str(TEMPLATES))
    templates.env.globals.update(t=t, local=local)
    users_path = users_file(app.config)
    middleware = [Middleware(_Headers),
                  Middleware(SessionMiddleware, secret_key=session_secret(users_path), session_cookie="repwatch_session",
                             max_age=auth.SESSION_AGE, same_site="lax", https_only=app.config.web.behind_tls_proxy)]
    web = Starlette(routes=[*ops.ROUTES, *auth.ROUTES, *pages.ROUTES, *replies.ROUTES, *api.ROUTES], middleware=middleware,
                    exception_handlers={auth.LoginRequired: auth.login_redirect})
    web.state.repwatch = app
    web.state.templates = templates
    web.state.healthz = healthz or (lambda: ops.health_report(app, True))
    web.state.users = Users(users_path)
    web.state.login_limiter = login_limiter or auth.LoginLimiter()
    return web
