"""Reply drafts on the dashboard (issue 18, items 1 and 2): a responder's editor for a public reply.

* ``POST /mentions/<id>/reply`` (responder; CSRF): the editor, prefilled with
  :func:`monitor.defence.replies.draft` for the mention, as ``repwatch reply draft`` makes
  it: the language of the mention's text, the template of its gravest cause, the entity's
  name and ``[defence] contact``. The linter's verdict on that draft is shown with it.
* ``POST /mentions/<id>/reply/check`` (responder; CSRF; field ``text``): the linter
  (:func:`monitor.defence.lint.check_text`, the entities' names and the contact channel
  allowed verbatim, as ``repwatch reply check`` does with a config) on the edited text, and
  the editor again with each flag's span, excerpt and reason.

A text with any flag is never shown as clean (the page's state is ``flagged``). Nothing is
posted or stored: the responder copies a clean reply to the platform. The page shows the
mention as /mentions shows it to the same user (masked; a restricted one's note unless they
are an admin), never its author. A config problem (no ``[defence] contact``, a broken
template, a mention about no configured entity) is answered with 409 and what to fix.
"""
from __future__ import annotations

from dataclasses import replace

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from monitor.defence.lint import check_text
from monitor.defence.replies import TemplateError, draft
from monitor.store.mentions import StoredMention
from monitor.store.tables import MentionEntityRow
from monitor.web.auth import checked_form, render, require, viewer_context
from monitor.web.users import User
from monitor.web.views import shown

REPLY_MAX = 5000  # characters of an edited reply the linter reads


def _mention(app, mention_id: int) -> StoredMention:
    """The stored mention with the entities it is about (sorted ids); 404 when there is none."""
    found = app.store.get_mentions([mention_id])
    if not found:
        raise HTTPException(404, f"no mention {mention_id}")
    linked = app.store.rows(MentionEntityRow, MentionEntityRow.mention_id == mention_id,
                            order_by=MentionEntityRow.entity_id)
    return replace(found[0], entities=tuple(r.entity_id for r in linked))


def _entity_name(config, m: StoredMention) -> str:
    names = {e.id: e.name for e in config.entities}
    known = [names[e] for e in m.entities if e in names]
    if not known:
        raise HTTPException(409, f"mention {m.id} is about no entity of the config: there is no one to reply as")
    return known[0]


def _contact(config) -> str:
    if not config.defence.contact:
        raise HTTPException(409, '[defence] contact is not set: a draft moves the conversation offline to the '
                                 'clinic\'s own channel (e.g. contact = "02-2345-6789")')
    return config.defence.contact


def _editor(request: Request, user: User, m: StoredMention, text: str, flags: list[dict], template_id: str) -> Response:
    language = viewer_context(request, user)["language"]
    return render(request, "reply.html", user, mention=shown(m, admin=user.may("admin"), language=language),
                  text=text, flags=flags, template_id=template_id, most=REPLY_MAX)


def _draft(request: Request, user: User) -> Response:
    app = request.app.state.repwatch
    m = _mention(app, request.path_params["id"])
    try:
        made = draft(f"{m.title}\n{m.text}", language="", causes=list(m.causes),
                     entity_name=_entity_name(app.config, m), contact=_contact(app.config),
                     templates_dir=app.config.defence.templates)
    except TemplateError as exc:
        raise HTTPException(409, str(exc)) from None
    return _editor(request, user, m, made.text, [f.as_dict() for f in made.flags], made.template_id)


def _check(request: Request, user: User, text: str) -> Response:
    app = request.app.state.repwatch
    m = _mention(app, request.path_params["id"])
    if not text.strip():
        raise HTTPException(400, "the reply is empty")
    if len(text) > REPLY_MAX:
        raise HTTPException(400, f"the reply is {len(text)} characters long; at most {REPLY_MAX} are checked")
    allow = [term for e in app.config.entities for term in e.terms]
    allow += [app.config.defence.contact] if app.config.defence.contact else []
    _code, _lines, payload = check_text(text, allow=allow)
    return _editor(request, user, m, text, payload["flags"], "")


async def reply_draft(request: Request) -> Response:
    user = require(request, "responder")
    await checked_form(request)
    return await run_in_threadpool(_draft, request, user)


async def reply_check(request: Request) -> Response:
    user = require(request, "responder")
    form = await checked_form(request)
    return await run_in_threadpool(_check, request, user, form.get("text", "").replace("\r\n", "\n"))


ROUTES = [
    Route("/mentions/{id:int}/reply", reply_draft, methods=["POST"]),
    Route("/mentions/{id:int}/reply/check", reply_check, methods=["POST"]),
]
