"""What Google's APIs (Places, Business Profile, YouTube Data) share: the error body.

Google reports *why* inside the JSON error, and the HTTP status alone misleads: a bad
API key is a 400, and an exhausted daily quota is a 403, which must read as
"rate limited until the quota resets", not as an auth failure.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from monitor.clock import UTC
from monitor.mention import FetchResult

_QUOTA = {"quotaexceeded", "ratelimitexceeded", "dailylimitexceeded", "userratelimitexceeded", "resource_exhausted",
          "rate_limit_exceeded"}
_AUTH = {"api_key_invalid", "keyinvalid", "unauthenticated", "permission_denied", "forbidden", "accessnotconfigured",
         "service_disabled", "api_key_service_blocked", "invalid_grant", "unauthorized_client", "invalid_client"}


def google_reasons(head: bytes) -> tuple[set[str], str]:
    """The lower-cased reason codes and the message in a Google error body."""
    try:
        doc = json.loads(head.decode("utf-8", "replace"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deep
        return set(), ""
    if not isinstance(doc, dict):
        return set(), ""
    err = doc.get("error")
    if isinstance(err, str):  # OAuth token endpoint: {"error": "invalid_grant", "error_description": ...}
        return {err.lower()}, str(doc.get("error_description") or err)
    if not isinstance(err, dict):
        return set(), ""
    reasons = {str(err.get("status", "")).lower()}
    for e in err.get("errors") if isinstance(err.get("errors"), list) else []:
        if isinstance(e, dict) and e.get("reason"):
            reasons.add(str(e["reason"]).lower())
    for d in err.get("details") if isinstance(err.get("details"), list) else []:
        if isinstance(d, dict) and d.get("reason"):
            reasons.add(str(d["reason"]).lower())
    reasons.discard("")
    return reasons, str(err.get("message") or "")


def next_pacific_midnight(now: datetime) -> datetime:
    """Google's daily quotas reset at midnight Pacific time."""
    pt = now.astimezone(ZoneInfo("America/Los_Angeles"))
    tomorrow = (pt + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return tomorrow.astimezone(UTC)


def classify_google(status: int, head: bytes, now: datetime) -> FetchResult | None:
    """A result for Google's error shapes, or None to fall back to the generic table."""
    reasons, message = google_reasons(head)
    if not reasons:
        return None
    short = message[:200]
    if reasons & _QUOTA:
        daily = bool(reasons & {"quotaexceeded", "dailylimitexceeded"})
        until = next_pacific_midnight(now) if daily else now + timedelta(minutes=5)
        return FetchResult("rate_limited", error=f"HTTP {status} quota exhausted ({', '.join(sorted(reasons & _QUOTA))}): "
                                                 f"{short}", http_status=status, retry_after=until)
    if reasons & _AUTH:
        return FetchResult("auth_failed", error=f"HTTP {status} {', '.join(sorted(reasons & _AUTH))}: {short}",
                           http_status=status)
    return None
