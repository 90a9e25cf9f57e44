"""The dashboard's words in zh-TW and en, and times in a viewer's zone.

:func:`pick_language` reads a stored choice, then Accept-Language; :func:`local` shows a
time in a zone with its UTC offset (never an abbreviation such as "CST", which names three
different zones).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

LANGUAGES = ("zh-TW", "en")
DEFAULT_ZONE = {"zh-TW": "Asia/Taipei", "en": "UTC"}

WORDS: dict[str, tuple[str, str]] = {  # key: (zh-TW, en)
    "ack.title": ("認領事件 #{id}", "Acknowledge incident #{id}"),
    "ack.entity": ("對象", "Entity"),
    "ack.severity": ("嚴重度", "Severity"),
    "ack.deadline": ("黃金一小時期限", "Golden-hour deadline"),
    "ack.left": ("剩 {minutes} 分鐘", "{minutes} min left"),
    "ack.overdue": ("已超過期限 {minutes} 分鐘", "{minutes} min past the deadline"),
    "ack.name": ("您的名字", "Your name"),
    "ack.button": ("認領", "Acknowledge"),
    "ack.done": ("事件 #{id} 已認領", "Incident #{id} acknowledged"),
    "ack.owner": ("負責人：{who}。升級通知已停止。", "Owner: {who}. Escalation has stopped."),
    "ack.already": ("事件 #{id} 已由 {who} {state}。", "Incident #{id} already {state} by {who}."),
    "ack.cannot": ("無法認領", "Cannot acknowledge"),
    "ack.invalid": ("連結無效", "Invalid link"),
    "ack.missing": ("查無此事件", "No such incident"),
    "state.open": ("處理中", "open"), "state.acked": ("已認領", "acknowledged"), "state.resolved": ("已解決", "resolved"),
    "sev.critical": ("緊急", "critical"), "sev.warning": ("警告", "warning"), "sev.info": ("資訊", "info"),
    "nav.overview": ("總覽", "Overview"), "nav.mentions": ("提及", "Mentions"), "nav.silences": ("靜音", "Silences"),
    "nav.sources": ("來源", "Sources"), "nav.settings": ("設定", "Settings"), "nav.logout": ("登出", "Sign out"),
    "login.title": ("登入", "Sign in"), "login.user": ("帳號", "User name"), "login.password": ("密碼", "Password"),
    "login.button": ("登入", "Sign in"), "login.failed": ("帳號或密碼錯誤", "Wrong user name or password"),
    "login.limited": ("嘗試次數過多，請 {seconds} 秒後再試", "Too many attempts: try again in {seconds} s"),
    "overview.title": ("總覽", "Overview"), "overview.open": ("未結事件", "Open incidents"),
    "overview.none_open": ("沒有未結事件", "No open incidents"),
    "overview.negative": ("負評數（{days} 天，每{unit}）", "Negative mentions ({days} days, per {unit})"),
    "unit.hour": ("小時", "hour"), "unit.day": ("日", "day"),
    "overview.health": ("來源狀態", "Source health"),
    "overview.totals": ("各對象負評數", "Negative mentions by entity"),
    "col.incident": ("事件", "Incident"), "col.entity": ("對象", "Entity"), "col.severity": ("嚴重度", "Severity"),
    "col.status": ("狀態", "Status"), "col.opened": ("開啟", "Opened"), "col.left": ("黃金一小時", "Golden hour"),
    "col.time": ("時間", "Time"), "col.source": ("來源", "Source"), "col.label": ("判定", "Label"),
    "col.score": ("負面機率", "P(negative)"), "col.cause": ("原因", "Cause"), "col.rating": ("星等", "Rating"),
    "col.text": ("內容（已遮蔽個資）", "Text (PHI masked)"), "col.state": ("狀態", "State"),
    "col.last_success": ("上次成功", "Last success"), "col.failures": ("連續失敗", "Failures"),
    "col.error": ("錯誤", "Error"), "col.matchers": ("條件", "Matchers"), "col.ends": ("結束", "Ends"),
    "col.by": ("建立者", "By"), "col.comment": ("備註", "Comment"),
    "filter.any": ("全部", "any"), "filter.apply": ("篩選", "Filter"), "filter.since": ("起", "From"),
    "filter.until": ("迄", "To"), "filter.min_rating": ("最低星等", "Min rating"),
    "filter.max_rating": ("最高星等", "Max rating"), "csv": ("匯出 CSV", "Export CSV"), "next": ("下一頁", "Next page"),
    "incident.title": ("事件 #{id}", "Incident #{id}"), "incident.timeline": ("時間軸", "Timeline"),
    "incident.ack": ("認領", "Acknowledge"), "incident.resolve": ("標記已解決", "Resolve"),
    "incident.tta": ("認領耗時 {minutes} 分鐘", "Time to acknowledge: {minutes} min"),
    "incident.met": ("（在黃金一小時內）", "(inside the golden hour)"),
    "incident.missed": ("（超過黃金一小時）", "(after the golden hour)"),
    "ev.opened": ("事件開啟", "incident opened"), "ev.alert": ("警報", "alert"), "ev.note": ("通知", "notification"),
    "ev.delivery": ("送達", "delivery"), "ev.acked": ("已認領", "acknowledged"), "ev.resolved": ("已解決", "resolved"),
    "ev.escalation": ("升級", "escalation"), "ev.detected": ("首次偵測", "first detected"),
    "silence.add": ("新增靜音", "Add a silence"), "silence.expire": ("結束", "Expire"),
    "silence.duration": ("持續", "Duration"), "silence.active": ("生效中", "active"),
    "silence.expired": ("已結束", "expired"),
    "settings.language": ("語言", "Language"), "settings.zone": ("時區", "Time zone"), "settings.save": ("儲存", "Save"),
    "label.correct": ("更正判定", "Correct the label"), "label.save": ("儲存", "Save"),
    "restricted.admin": ("受限內容（公開了病人個資，僅管理員可見）", "restricted (exposes a patient; admins only)"),
    "reply.draft": ("草擬回覆", "Draft a reply"), "reply.title": ("回覆草稿：提及 #{id}", "Reply draft: mention #{id}"),
    "reply.check": ("檢查", "Check"), "reply.clean": ("檢查通過：沒有問題", "Checked: no flags"),
    "reply.flagged": ("檢查發現 {n} 個問題，請修改後再檢查", "{n} flag(s): edit the reply and check again"),
    "reply.span": ("位置", "Span"), "reply.rule": ("規則", "Rule"), "reply.excerpt": ("片段", "Excerpt"),
    "reply.reason": ("原因", "Reason"), "reply.template": ("範本", "Template"),
    "reply.note": ("這是草稿：檢查通過後，請自行複製到平台張貼。",
                   "This is a draft: once it checks clean, copy it and post it on the platform yourself."),
}


def t(language: str, key: str, **values) -> str:
    zh, en = WORDS[key]
    return (zh if language == "zh-TW" else en).format(**values)


def pick_language(chosen: str | None, accept: str = "") -> str:
    if chosen in LANGUAGES:
        return chosen
    return "zh-TW" if accept.lower().lstrip().startswith("zh") else "en"


def zone_or_default(zone: str | None, language: str) -> str:
    try:
        ZoneInfo(zone or "")
        return zone  # type: ignore[return-value]
    except (ZoneInfoNotFoundError, ValueError):
        return DEFAULT_ZONE.get(language, "UTC")


def local(when: datetime | None, zone: str) -> str:
    """``2026-12-02 13:05 (UTC+08:00)``; empty for None."""
    if when is None:
        return ""
    shown = when.astimezone(ZoneInfo(zone))
    offset = shown.utcoffset() or timedelta(0)
    sign, minutes = ("-" if offset < timedelta(0) else "+"), abs(int(offset.total_seconds())) // 60
    return f"{shown:%Y-%m-%d %H:%M} (UTC{sign}{minutes // 60:02d}:{minutes % 60:02d})"


def minutes_between(later: datetime, earlier: datetime) -> int:
    return int((later - earlier).total_seconds() // 60)
