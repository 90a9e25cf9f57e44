"""The dashboard's pages (signed-in users; times in the viewer's zone, words in their language).

* ``/``: per doctor and clinic, negative mentions over 7 and 30 days (a table of all),
  charted per hour over 7 days and per day over 30 days (SVG from
  :func:`monitor.charts.line_chart`) for ``?entity=`` or the six with the most this
  week; open incidents with the time left in the golden hour; source health.
* ``/mentions``: the filtered mention list (entity, source, label, cause, rating, dates),
  PHI masked, keyset pages of 50 (a mention that exposes a patient shows its text to admins
  only); responders correct a mention's label there and open a reply draft
  (:mod:`monitor.web.replies`).
* ``/incidents/<id>``: the timeline of alerts, pages, deliveries, escalations, the ack and
  the resolve; responders acknowledge and resolve here.
* ``/silences``: list; responders add and expire. ``/sources``: each source's health.
"""
from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from monitor.alerting.incidents import IncidentError
from monitor.alerting.silences import SilenceError
from monitor.causes import CAUSES
from monitor.charts import line_chart
from monitor.units import parse_duration
from monitor.web.auth import checked_form, render, require, viewer_context
from monitor.web.i18n import t
from monitor.web.views import (LABELS, PAGE_SIZE, BadFilter, cursor_of, daily_series, golden_hour, hourly_series,
                               mention_filter, read_cursor, shown)


CHARTED = 6  # entities charted on the overview unless one is asked for


def _charts(app, language: str, zone: str, chosen: str | None) -> tuple[list[dict], list[dict]]:
    """(every entity's 7- and 30-day totals, the charts of the chosen entity or of the
    ``CHARTED`` with the most negatives in the last 7 days); the hourly counts are read
    for the charted ones only."""
    now = app.clock.now()
    entities = app.config.entities
    local_today = now.astimezone(ZoneInfo(zone)).date()
    since = datetime.combine(local_today - timedelta(days=29), time(0), ZoneInfo(zone))  # the 30 days charted
    week_since = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=7 * 24 - 1)  # the chart's hours
    totals = app.store.negative_totals([e.id for e in entities], since, week_since, now,
                                       app.config.sentiment.negative_threshold)
    rows = [{"entity": e, "week_total": totals.get(e.id, (0, 0))[0], "month_total": totals.get(e.id, (0, 0))[1]}
            for e in entities]
    ranked = sorted(rows, key=lambda r: (-r["week_total"], -r["month_total"]))
    shown = [r for r in rows if r["entity"].id == chosen] or ranked[:CHARTED]
    counts = app.store.negative_by_hour([r["entity"].id for r in shown], since, now,
                                        app.config.sentiment.negative_threshold)
    title7 = t(language, "overview.negative", days=7, unit=t(language, "unit.hour"))
    title30 = t(language, "overview.negative", days=30, unit=t(language, "unit.day"))
    for r in shown:
        by_hour, name = counts.get(r["entity"].id, {}), r["entity"].name
        r["week"] = Markup(line_chart({name: hourly_series(by_hour, now, 7 * 24)}, title=title7, tz=zone,
                                      width=520, height=200))
        r["month"] = Markup(line_chart({name: daily_series(by_hour, now, 30, zone)}, title=title30, tz=zone,
                                       width=520, height=200))
    return ranked, shown


def _overview(request: Request) -> Response:
    user = require(request)
    app = request.app.state.repwatch
    ctx = viewer_context(request, user)
    now = app.clock.now()
    incidents = [(inc, golden_hour(inc, now), _entity_name(app, inc.entity_id))
                 for inc in app.store.incidents(open_only=True)]
    totals, charts = _charts(app, ctx["language"], ctx["zone"], request.query_params.get("entity"))
    return render(request, "overview.html", user, totals=totals, charts=charts, incidents=incidents,
                  health=app.health())


def _entity_name(app, entity_id: str) -> str:
    return next((e.name for e in app.config.entities if e.id == entity_id), entity_id)


def _mentions(request: Request) -> Response:
    user = require(request)
    app = request.app.state.repwatch
    ctx = viewer_context(request, user)
    params = request.query_params
    try:
        f = mention_filter(params, app.config, ctx["zone"])
        rows = app.store.mention_page(f, PAGE_SIZE + 1, read_cursor(params.get("after")))
    except BadFilter as exc:
        raise HTTPException(400, str(exc)) from None
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    query = {k: v for k, v in params.items() if k != "after" and v}
    next_query = {**query, "after": cursor_of(rows[-1])} if more else None
    mentions = [shown(m, admin=user.may("admin"), language=ctx["language"]) for m in rows]
    return render(request, "mentions.html", user, mentions=mentions, params=query,
                  next_query=next_query, entities=app.config.entities, sources=app.config.sources,
                  labels=LABELS, causes=CAUSES, may_label=user.may("responder"), here=str(request.url.path) + (
                      f"?{request.url.query}" if request.url.query else ""))


def _incident(request: Request, incident_id: int) -> Response:
    user = require(request)
    app = request.app.state.repwatch
    inc = app.store.incident(incident_id)
    if inc is None:
        raise HTTPException(404, f"no incident #{incident_id}")
    timeline = app.store.incident_timeline(incident_id)
    return render(request, "incident.html", user, inc=inc, entity=_entity_name(app, inc.entity_id),
                  events=_events(inc, timeline), golden=golden_hour(inc, app.clock.now()),
                  may_act=user.may("responder"))


def _events(inc, timeline) -> list[tuple]:
    """(time, kind key, what) of everything that happened to the incident, oldest first."""
    events = [(inc.first_detected_at, "ev.detected", ""), (inc.opened_at, "ev.opened", inc.route_id)]
    for a in timeline.alerts:
        events.append((a.fired_at, "ev.alert", f"{a.rule_id} · {a.severity or ''} · {a.title}"))
    for n in timeline.notifications:
        kind = "ev.escalation" if n.kind == "escalation" else "ev.note"
        events.append((n.created_at, kind, f"{n.kind} → {n.route_id} ({n.language})"))
    for d in timeline.deliveries:
        error = f" · {d.last_error}" if d.last_error else ""
        events.append((d.sent_at or d.created_at, "ev.delivery", f"{d.route_id}: {d.status} · {d.target} "
                                                                 f"· {d.attempts}×{error}"))
    if inc.acked_at:
        events.append((inc.acked_at, "ev.acked", f"{inc.acked_by} ({inc.ack_via})"))
    if inc.resolved_at:
        events.append((inc.resolved_at, "ev.resolved", inc.resolved_by or ""))
    return sorted(events, key=lambda e: e[0])


async def label_mention(request: Request) -> Response:
    """A responder's verdict on a mention (as ``repwatch label``): it counts at once in rules,
    pages and digests, and ``repwatch sentiment adapt`` learns from it."""
    user = require(request, "responder")
    form = await checked_form(request)
    label, cause = form.get("label", ""), form.get("cause", "")
    if label not in LABELS or (cause and (cause not in CAUSES or label != "negative")):
        raise HTTPException(400, "label must be negative, neutral or positive; a cause goes with negative")
    app = request.app.state.repwatch
    row = await run_in_threadpool(app.store.label_mention, request.path_params["id"], label,
                                  [cause] if cause else None, user.name, app.clock.now())
    if row is None:
        raise HTTPException(404, "no such mention")
    back = form.get("next", "")
    return RedirectResponse(back if back.startswith("/mentions") else "/mentions", status_code=303)


async def incident_action(request: Request) -> Response:
    user = require(request, "responder")
    await checked_form(request)
    incident_id, action = request.path_params["id"], request.path_params["action"]
    if action not in ("ack", "resolve"):
        raise HTTPException(404, "no such action")
    dispatcher = request.app.state.repwatch.dispatcher
    try:
        if action == "ack":
            await run_in_threadpool(dispatcher.ack, incident_id, user.name, "web")
        else:
            await run_in_threadpool(dispatcher.resolve, incident_id, user.name)
    except IncidentError as exc:
        raise HTTPException(409, str(exc)) from None
    return RedirectResponse(f"/incidents/{incident_id}", status_code=303)


def _silences(request: Request, error: str = "", status: int = 200) -> Response:
    user = require(request)
    app = request.app.state.repwatch
    now = app.clock.now()
    rows = [(s, s.starts_at <= now < s.ends_at) for s in reversed(app.store.silences())]
    return render(request, "silences.html", user, status, silences=rows, may_act=user.may("responder"), error=error)


async def silence_add(request: Request) -> Response:
    user = require(request, "responder")
    form = await checked_form(request)
    app = request.app.state.repwatch
    matchers = [line.strip() for line in form.get("matchers", "").splitlines() if line.strip()]
    try:
        ends = app.clock.now() + parse_duration(form.get("duration", "").strip() or "x")
        await run_in_threadpool(app.dispatcher.silence, matchers, ends, user.name, form.get("comment", ""))
    except (ValueError, SilenceError, IncidentError) as exc:
        return await run_in_threadpool(_silences, request, str(exc), 400)
    return RedirectResponse("/silences", status_code=303)


async def silence_expire(request: Request) -> Response:
    require(request, "responder")
    await checked_form(request)
    try:
        await run_in_threadpool(request.app.state.repwatch.dispatcher.expire_silence, request.path_params["id"])
    except SilenceError as exc:
        raise HTTPException(404, str(exc)) from None
    return RedirectResponse("/silences", status_code=303)


def _sources(request: Request) -> Response:
    user = require(request)
    app = request.app.state.repwatch
    health, states = app.health(), app.store.source_states()
    rows = [(s, health[s.id], states.get(s.id)) for s in app.config.sources]
    return render(request, "sources.html", user, sources=rows)


async def overview(request: Request) -> Response:
    return await run_in_threadpool(_overview, request)


async def mentions(request: Request) -> Response:
    return await run_in_threadpool(_mentions, request)


async def incident(request: Request) -> Response:
    return await run_in_threadpool(_incident, request, request.path_params["id"])


async def silences(request: Request) -> Response:
    return await run_in_threadpool(_silences, request)


async def sources(request: Request) -> Response:
    return await run_in_threadpool(_sources, request)


ROUTES = [
    Route("/", overview, methods=["GET"]),
    Route("/mentions", mentions, methods=["GET"]),
    Route("/mentions/{id:int}/label", label_mention, methods=["POST"]),
    Route("/incidents/{id:int}", incident, methods=["GET"]),
    Route("/incidents/{id:int}/{action:str}", incident_action, methods=["POST"]),
    Route("/silences", silences, methods=["GET"]),
    Route("/silences", silence_add, methods=["POST"]),
    Route("/silences/{id:int}/expire", silence_expire, methods=["POST"]),
    Route("/sources", sources, methods=["GET"]),
]
