"""The routes that work without signing in: ``/healthz``, ``/metrics`` and ``/ack/<token>``.

* ``/healthz``: 200 with a JSON summary when the database answers and the scheduler runs,
  503 otherwise. Unhealthy *sources* are reported in the body (and in /metrics) but do
  not fail the check: restarting the container does not fix a blocked feed.
* ``/metrics``: :func:`monitor.metrics.metrics_payload` (prometheus_client), read from
  the database at scrape time.
* ``/ack/<token>``: the signed, expiring link in every page. GET shows what will be
  acknowledged and asks for a name; only POST acknowledges, because chat apps and mail
  scanners fetch links by themselves and must not acknowledge anything. The token is the
  credential, so neither needs a session or a CSRF token. The page speaks the language
  and shows the zone of the route the incident paged first, names the entity by its
  display name, and shows ids, state and deadline, never mention text.
"""
from __future__ import annotations

import logging
from collections import Counter
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from monitor.alerting.incidents import IncidentError, verify_ack
from monitor.errors import NotInConfigError
from monitor.metrics import metrics_payload
from monitor.web.i18n import WORDS, local, minutes_between, pick_language, t

log = logging.getLogger("repwatch.http")

HEALTHY_STATES = ("ok", "new", "disabled")


def health_report(app, alive: bool) -> tuple[int, dict]:
    """The status code and JSON body of ``/healthz``."""
    body: dict = {"status": "ok"}
    try:
        app.store.ping()
        body["database"] = "ok"
    except Exception as exc:
        body["database"] = f"error: {type(exc).__name__}"
        body["status"] = "error"
    body["scheduler"] = "running" if alive else "stopped"
    if body["scheduler"] != "running":
        body["status"] = "error"
    health = app.health()
    body["sources"] = dict(Counter(h.state for h in health.values()))
    body["unhealthy_sources"] = sorted(k for k, h in health.items() if h.state not in HEALTHY_STATES)
    body["open_incidents"] = len(app.store.incidents(open_only=True))
    return (200 if body["status"] == "ok" else 503), body


async def healthz(request: Request) -> Response:
    status, body = await run_in_threadpool(request.app.state.healthz)
    return JSONResponse(body, status_code=status)


async def metrics(request: Request) -> Response:
    body, content_type = await run_in_threadpool(metrics_payload, request.app.state.repwatch,
                                                 request.headers.get("accept", ""))
    return Response(body, media_type=content_type)


def route_language(app, incident) -> tuple[str, str]:
    """The language and time zone of the route the incident paged first (en/UTC when none
    of its routes is in the config any more)."""
    for route_id in (incident.route_id, *incident.routes_paged):
        try:
            route = app.config.route(route_id)
        except NotInConfigError:
            continue
        return route.language, route.timezone
    return "en", "UTC"


def _verify(app, token: str) -> int:
    secret = app.config.incidents.ack_secret
    if not secret:
        raise IncidentError("acknowledgement links are not configured ([incidents] public_url)")
    return verify_ack(secret, token, app.clock.now())


def _page(request: Request, status: int, language: str, heading: str, lines=(), *, state: str = "",
          form: bool = False, detail: str = "") -> Response:
    return request.app.state.templates.TemplateResponse(request, "ack.html", {
        "language": language, "heading": heading, "lines": lines, "state": state, "form": form, "detail": detail,
        "user": None}, status_code=status)


def _ack_form(request: Request, token: str) -> Response:
    app = request.app.state.repwatch
    fallback = pick_language(None, request.headers.get("accept-language", ""))
    try:
        incident_id = _verify(app, token)
    except IncidentError as exc:
        return _page(request, 403, fallback, t(fallback, "ack.invalid"), detail=str(exc))
    inc = app.store.incident(incident_id)
    if inc is None:
        return _page(request, 404, fallback, t(fallback, "ack.missing"))
    lang, zone = route_language(app, inc)
    if inc.status != "open":
        who = inc.acked_by or inc.resolved_by or ""
        return _page(request, 200, lang, t(lang, "ack.title", id=inc.id), state=inc.status,
                     lines=[t(lang, "ack.already", id=inc.id, who=who, state=t(lang, f"state.{inc.status}"))])
    left = minutes_between(inc.deadline, app.clock.now())
    countdown = t(lang, "ack.left", minutes=left) if left >= 0 else t(lang, "ack.overdue", minutes=-left)
    entity = _name(app, inc)
    severity = t(lang, f"sev.{inc.severity}") if f"sev.{inc.severity}" in WORDS else inc.severity
    sep = "：" if lang == "zh-TW" else ": "
    return _page(request, 200, lang, t(lang, "ack.title", id=inc.id), state="open", form=True, lines=[
        f"{t(lang, 'ack.entity')}{sep}{entity}", f"{t(lang, 'ack.severity')}{sep}{severity}",
        f"{t(lang, 'ack.deadline')}{sep}{local(inc.deadline, zone)} ({countdown})"])


def _name(app, inc) -> str:
    try:
        return app.config.entity(inc.entity_id).name
    except NotInConfigError:  # removed from the config since: its id
        return inc.entity_id


async def ack_form(request: Request) -> Response:
    return await run_in_threadpool(_ack_form, request, request.path_params["token"])


def _ack(request: Request, token: str, by: str) -> Response:
    app = request.app.state.repwatch
    lang = pick_language(None, request.headers.get("accept-language", ""))
    try:
        incident_id = _verify(app, token)
        inc = app.store.incident(incident_id)
        if inc is not None:
            lang = route_language(app, inc)[0]
        inc = app.dispatcher.ack(incident_id, by, via="link")
    except IncidentError as exc:
        return _page(request, 400 if "name" in str(exc) else 403, lang, t(lang, "ack.cannot"), detail=str(exc))
    return _page(request, 200, lang, t(lang, "ack.done", id=inc.id), state="acknowledged",
                 lines=[t(lang, "ack.owner", who=inc.acked_by or "")])


async def ack(request: Request) -> Response:
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    by = (form.get("by") or [""])[0]
    try:
        return await run_in_threadpool(_ack, request, request.path_params["token"], by)
    except Exception:
        log.exception("HTTP POST /ack failed")
        return PlainTextResponse("internal error", status_code=500)


ROUTES = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
    Route("/ack/{token}", ack_form, methods=["GET"]),
    Route("/ack/{token}", ack, methods=["POST"]),
]
