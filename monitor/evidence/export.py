"""``repwatch evidence export``: one zip with everything kept about an incident's mentions,
or one mention, that anyone can check without repwatch.

Layout::

    manifest.json               format, tool, who, when, subject; every other file with
                                its SHA-256 and size; every fetch with its time and hash
    CUSTODY.md                  the chain-of-custody note (zh-TW and en)
    payloads/<sha256>.bin       each raw response body exactly as fetched (named by its hash)
    fetches/<id>.json           where and when it was fetched: URL, time (UTC), HTTP status,
                                response headers (no cookies or credentials), body hash
    mentions/<id>/unmasked.md   every version and removal record, as written (personal data)
    mentions/<id>/masked.md     the same with patient data masked and the author withheld
    mentions/<id>/record.json   the same as data (unmasked)

The SHA-256 of the whole zip goes to ``FILE.zip.sha256`` (``sha256sum`` format) beside it.
Members carry the export time, so the same export made twice differs only there.
"""
from __future__ import annotations

import hashlib
import json
import re
import socket
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from monitor import __version__
from monitor.evidence.custody import Custody, custody_note
from monitor.privacy import mask_phi, mask_url
from monitor.store import FetchRow, MentionEvidence, Store

FORMAT = "repwatch-evidence/1"
_SUBJECT = re.compile(r"^(mention|incident):(\d+)$")


class ExportError(Exception):
    """The subject cannot be exported (unknown, or nothing stored for it)."""


@dataclass(frozen=True)
class Subject:
    kind: str  # mention | incident
    id: int

    def __str__(self) -> str:
        return f"{self.kind} {self.id}"


def parse_subject(text: str) -> Subject:
    """``mention:12`` or ``incident:3``."""
    m = _SUBJECT.match(text.strip().lower())
    if not m:
        raise ValueError(f"{text!r}: write mention:ID or incident:ID (e.g. incident:3)")
    return Subject(m.group(1), int(m.group(2)))


@dataclass(frozen=True)
class ExportSummary:
    path: Path
    sha256: str
    files: int
    mentions: int
    payloads: int
    size: int


def subject_mentions(store: Store, subject: Subject) -> list[int]:
    if subject.kind == "mention":
        return [subject.id]
    incident = store.incident(subject.id)
    if incident is None:
        raise ExportError(f"no incident {subject.id}")
    return sorted(set(incident.mention_id_list))


def _iso(at: datetime | None) -> str | None:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ") if at else None


def _versions(ev: MentionEvidence) -> list[dict]:
    """Every version, oldest first, with the fetch each came from (None when none was kept)."""
    fetch = dict(ev.fetches)
    m = ev.mention
    out = [{"version": v.version, "seen_at": _iso(v.seen_at), "title": v.title, "text": v.text, "rating": v.rating,
            "fetch": fetch[v.version].id if v.version in fetch else None} for v in ev.versions]
    n = ev.current_version
    out.append({"version": n, "seen_at": _iso(m.edited_at or m.detected_at), "title": m.title, "text": m.text,
                "rating": m.rating, "fetch": fetch[n].id if n in fetch else None, "current": True})
    return out


def record(ev: MentionEvidence) -> dict:
    m = ev.mention
    return {"id": m.id, "source": m.source_id, "url": m.url, "author": m.author, "published_at": _iso(m.published_at),
            "detected_at": _iso(m.detected_at), "versions": _versions(ev),
            "tombstones": [{"removed_at": _iso(t.removed_at), "how": t.how, "detail": t.detail, "fetch": t.fetch_id,
                            "restored_at": _iso(t.restored_at)} for t in ev.tombstones]}


def render(ev: MentionEvidence, masked: bool) -> str:
    """The mention as a reader sees it: every version, then its removal records."""
    rec = record(ev)
    show = mask_phi if masked else (lambda s: s or "")
    url = mask_url(rec["url"]) if masked else rec["url"]
    removed = [t for t in rec["tombstones"] if not t["restored_at"]]
    lines = [f"# Mention #{rec['id']} ({rec['source']})", "", f"- URL: {url or '-'}",
             f"- author: {'(withheld in the masked copy)' if masked else rec['author'] or '-'}",
             f"- published: {rec['published_at'] or '-'}; first detected: {rec['detected_at']}",
             f"- status: {'REMOVED since ' + removed[-1]['removed_at'] if removed else 'present when last read'}"]
    for v in rec["versions"]:
        lines += ["", f"## Version {v['version']}{' (last copy)' if v.get('current') else ''}",
                  f"seen from {v['seen_at']}; rating {v['rating'] if v['rating'] is not None else '-'}; "
                  f"fetch {'#' + str(v['fetch']) if v['fetch'] else '(none kept)'}", ""]
        if v["title"]:
            lines.append(f"**{show(v['title'])}**")
        lines.append(show(v["text"]))
    if rec["tombstones"]:
        lines += ["", "## Removal records"]
        for t in rec["tombstones"]:
            back = f"; listed again at {t['restored_at']}" if t["restored_at"] else ""
            lines.append(f"- {t['removed_at']} ({t['how']}): {t['detail']}{back}")
    return "\n".join(lines) + "\n"


def _fetch_json(f: FetchRow) -> dict:
    return {"id": f.id, "source": f.source_id, "url": f.url, "fetched_at": _iso(f.fetched_at), "status": f.status,
            "headers": json.loads(f.headers), "sha256": f.sha256}


def export(store: Store, subject: Subject, out: Path, by: str, at: datetime) -> ExportSummary:
    """Write the zip for ``subject`` to ``out`` (and ``out.sha256``)."""
    ids = subject_mentions(store, subject)
    evidence = [e for e in (store.mention_evidence(i) for i in ids) if e is not None]
    if not evidence:
        raise ExportError(f"nothing stored for {subject} (purged, or never stored)")
    fetch_ids = sorted({f.id for e in evidence for _, f in e.fetches}
                       | {t.fetch_id for e in evidence for t in e.tombstones if t.fetch_id})
    fetches = [f for f in (store.fetch_row(i) for i in fetch_ids) if f is not None]
    members: dict[str, bytes] = {}
    for sha in sorted({f.sha256 for f in fetches}):
        body = store.payload(sha)
        if body is not None:
            members[f"payloads/{sha}.bin"] = body
    for f in fetches:
        members[f"fetches/{f.id}.json"] = _dump(_fetch_json(f))
    for e in evidence:
        base = f"mentions/{e.mention.id}"
        members[f"{base}/unmasked.md"] = render(e, masked=False).encode("utf-8")
        members[f"{base}/masked.md"] = render(e, masked=True).encode("utf-8")
        members[f"{base}/record.json"] = _dump(record(e))
    custody = Custody(str(subject), by, at, socket.gethostname(), f"repwatch {__version__}",
                      tuple(e.mention.id for e in evidence), sum(p.startswith("payloads/") for p in members),
                      len(fetches), sum(len(e.tombstones) for e in evidence),
                      sum(e.current_version for e in evidence))
    members["CUSTODY.md"] = custody_note(custody).encode("utf-8")
    manifest = {
        "format": FORMAT, "tool": custody.tool, "exported_by": by, "exported_at": _iso(at), "host": custody.host,
        "subject": str(subject), "mentions": list(custody.mention_ids),
        "fetches": [{"id": f.id, "url": f.url, "fetched_at": _iso(f.fetched_at), "sha256": f.sha256,
                     "body_kept": f"payloads/{f.sha256}.bin" in members} for f in fetches],
        "files": [{"path": p, "sha256": hashlib.sha256(b).hexdigest(), "size": len(b)}
                  for p, b in sorted(members.items())],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    stamp = at.timetuple()[:6]
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for path, body in [("manifest.json", _dump(manifest)), *sorted(members.items())]:
            z.writestr(zipfile.ZipInfo(path, date_time=stamp), body, zipfile.ZIP_DEFLATED)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    Path(f"{out}.sha256").write_text(f"{digest}  {out.name}\n", encoding="utf-8")
    return ExportSummary(out, digest, len(members) + 1, len(evidence), custody.payloads, out.stat().st_size)


def _dump(data) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")
