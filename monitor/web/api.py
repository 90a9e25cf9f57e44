"""The JSON API and the CSV export (signed-in users, or ``Authorization: Bearer`` with
``REPWATCH_API_TOKEN``).

* ``GET /api/mentions``: the mention list's filters (``entity``, ``source``, ``label``,
  ``cause``, ``min_rating``, ``max_rating``, ``since``, ``until`` as dates in the viewer's
  zone), ``limit`` (1-500, default 50) and ``after`` (the ``next`` cursor of the previous
  answer). Text is PHI-masked; a mention that exposes a patient has ``"restricted": true`` and,
  for anyone but an admin, ``null`` title and text.
* ``GET /api/incidents`` (``?status=open`` for the unresolved ones, ``limit``) and
  ``GET /api/incidents/<id>`` (with its timeline).
* ``GET /mentions.csv``: the filtered list (up to 10,000 rows), masked (a restricted
  mention's text is the restricted note, except for admins); a cell that a
  spreadsheet would run as a formula (it starts with = + - @ or a tab) gets a leading '.
"""
from __future__ import annotations

import csv
import io
from functools import partial
from typing import Callable

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from monitor.store.mentions import StoredMention
from monitor.web.auth import require, viewer_context
from monitor.web.views import BadFilter, ShownMention, cursor_of, golden_hour, mention_filter, read_cursor, shown

CSV_ROWS = 10_000
CSV_COLUMNS = ("id", "event_at", "source", "entities", "label", "negative_score", "causes", "rating", "title", "text",
               "url")


def _limit(value: str | None, default: int, most: int) -> int:
    try:
        return min(max(int(value or default), 1), most)
    except ValueError:
        raise HTTPException(400, f"limit must be a number, got {value!r}") from None


def _page(request: Request, limit: int) -> tuple[list, Callable[[StoredMention], ShownMention]]:
    """(up to ``limit`` + 1 rows of the filtered list, how the signed-in user sees a row)."""
    user = require(request)
    app = request.app.state.repwatch
    ctx = viewer_context(request, user)
    try:
        f = mention_filter(request.query_params, app.config, ctx["zone"])
        rows = app.store.mention_page(f, limit + 1, read_cursor(request.query_params.get("after")))
    except BadFilter as exc:
        raise HTTPException(400, str(exc)) from None
    return rows, partial(shown, admin=user.may("admin"), language=ctx["language"])


def _mentions(request: Request) -> Response:
    limit = _limit(request.query_params.get("limit"), 50, 500)
    rows, show = _page(request, limit)
    body = {"mentions": [show(m).as_json() for m in rows[:limit]],
            "next": cursor_of(rows[limit - 1]) if len(rows) > limit else None}
    return JSONResponse(body)


def _incident_json(inc, now, entity_name: str) -> dict:
    golden = golden_hour(inc, now)
    return {"id": inc.id, "entity": inc.entity_id, "entity_name": entity_name, "severity": inc.severity,
            "status": inc.status, "route": inc.route_id, "opened_at": inc.opened_at.isoformat(),
            "first_detected_at": inc.first_detected_at.isoformat(), "deadline": inc.deadline.isoformat(),
            "acked_at": inc.acked_at.isoformat() if inc.acked_at else None, "acked_by": inc.acked_by,
            "resolved_at": inc.resolved_at.isoformat() if inc.resolved_at else None, "resolved_by": inc.resolved_by,
            "time_to_ack_minutes": golden["minutes"] if golden["acked"] else None,
            "minutes_left": None if golden["acked"] else golden["minutes"], "golden_hour_met": golden["met"],
            "mentions": len(inc.mention_id_list)}


def _names(app) -> dict[str, str]:
    return {e.id: e.name for e in app.config.entities}


def _incidents(request: Request) -> Response:
    require(request)
    app = request.app.state.repwatch
    open_only = request.query_params.get("status") == "open"
    rows = app.store.incidents(open_only=open_only, limit=_limit(request.query_params.get("limit"), 100, 1000))
    names, now = _names(app), app.clock.now()
    return JSONResponse({"incidents": [_incident_json(i, now, names.get(i.entity_id, i.entity_id)) for i in rows]})


def _incident(request: Request) -> Response:
    require(request)
    app = request.app.state.repwatch
    inc = app.store.incident(request.path_params["id"])
    if inc is None:
        raise HTTPException(404, "no such incident")
    timeline = app.store.incident_timeline(inc.id)
    body = _incident_json(inc, app.clock.now(), _names(app).get(inc.entity_id, inc.entity_id))
    body["alerts"] = [{"id": a.id, "rule": a.rule_id, "severity": a.severity, "fired_at": a.fired_at.isoformat(),
                       "count": a.count, "status": a.status} for a in timeline.alerts]
    body["notifications"] = [{"id": n.id, "kind": n.kind, "route": n.route_id, "created_at": n.created_at.isoformat()}
                             for n in timeline.notifications]
    body["deliveries"] = [{"id": d.id, "notification": d.notification_id, "route": d.route_id, "status": d.status,
                           "attempts": d.attempts, "sent_at": d.sent_at.isoformat() if d.sent_at else None}
                          for d in timeline.deliveries]
    return JSONResponse(body)


def csv_cell(value) -> str:
    """A cell a spreadsheet shows as text: formulas (= + - @, tab, CR first) are quoted with '."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv(request: Request) -> Response:
    rows, show = _page(request, CSV_ROWS)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for m in map(show, rows[:CSV_ROWS]):
        r = {**m.as_json(), "entities": " ".join(m.entities), "causes": " ".join(m.causes), "text": m.text}
        writer.writerow([csv_cell(r[c]) for c in CSV_COLUMNS])
    return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="mentions.csv"'})


def _threaded(fn):
    async def endpoint(request: Request) -> Response:
        return await run_in_threadpool(fn, request)
    return endpoint


ROUTES = [
    Route("/api/mentions", _threaded(_mentions), methods=["GET"]),
    Route("/api/incidents", _threaded(_incidents), methods=["GET"]),
    Route("/api/incidents/{id:int}", _threaded(_incident), methods=["GET"]),
    Route("/mentions.csv", _threaded(_csv), methods=["GET"]),
]
