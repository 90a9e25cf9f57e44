"""The weekly report's words in zh-TW and en, and how its figures are written (shares,
changes in percentage points, durations, dates) in each."""
from __future__ import annotations

from datetime import datetime, timedelta

STRINGS = {
    "zh-TW": {
        "title": "[repwatch] 每週報告 {start} – {last}",
        "heading": "每週聲譽報告", "period": "期間:{start}({wd_start})至 {last}({wd_last}),{zone}",
        "generated": "產生時間:{at}|路由:{route}",
        "summary": "本週重點", "mentions": "提及", "scored": "已判讀", "negative": "負面提及",
        "share": "負面比例", "change": "與上週相比", "previous": "上週 {share}", "no_previous": "上週沒有資料",
        "incidents": "新事件", "in_hour": "黃金一小時內認領", "of": "{k} / {n}({share})",
        "p50": "認領時間 p50", "p90": "認領時間 p90",
        "trend": "負面比例趨勢(近 {n} 週)", "trend_chart": "每週負面比例(%)", "week_of": "週起始日",
        "daily": "每日負面提及", "daily_chart": "每日負面提及(則)", "all": "全部",
        "by_entity": "依醫師/診所", "by_source": "依來源", "by_cause": "負面原因",
        "entity": "對象", "source": "來源", "cause": "原因", "type": "類型",
        "golden": "黃金一小時", "golden_lead": "本週開啟 {n} 起事件,{acked} 起已認領,{inside} 起在期限內認領。",
        "late": "逾時或未認領的事件", "detected": "偵測時間", "ack": "認領",
        "acked_after": "{d} 後認領", "not_acked": "尚未認領", "no_incidents": "本週沒有新事件。",
        "health": "來源健康狀況", "state": "狀態", "last_ok": "最後成功", "failures": "連續失敗", "week_mentions": "本週提及",
        "states": {"ok": "正常", "failing": "失敗中", "blocked": "被封鎖", "auth-failed": "認證失敗", "silent": "異常安靜",
                   "new": "尚未輪詢", "disabled": "已停用"},
        "never": "從未", "none": "無", "quiet": "本週沒有提及。請確認各來源狀態正常(repwatch sources)。",
        "note": "本報告只含統計數字,不含提及內文。負面比例=負面提及÷已判讀提及;p50/p90 為最近秩百分位數。",
        "pts": "{sign}{v:.1f} 個百分點", "min": "{m} 分鐘", "hm": "{h} 小時 {m} 分鐘", "empty": "沒有資料", "more": "…另有 {n} 項未列出",
        "weekdays": "一二三四五六日", "wd": "週{d}", "sources_problem": "有問題的來源:{names}",
        "share_line": "負面比例 {share}({change})", "top": "負面最多:{rows}", "row": "{name} {n} 則",
    },
    "en": {
        "title": "[repwatch] weekly report {start} – {last}",
        "heading": "Weekly reputation report", "period": "Period: {start} ({wd_start}) to {last} ({wd_last}), {zone}",
        "generated": "Generated {at} | route {route}",
        "summary": "This week", "mentions": "Mentions", "scored": "Scored", "negative": "Negative mentions",
        "share": "Negative share", "change": "Change from previous week", "previous": "previous week {share}",
        "no_previous": "no data for the previous week",
        "incidents": "Incidents opened", "in_hour": "Acked inside the golden hour", "of": "{k} of {n} ({share})",
        "p50": "Time to ack p50", "p90": "Time to ack p90",
        "trend": "Negative share trend (last {n} weeks)", "trend_chart": "Negative share per week (%)",
        "week_of": "Week of", "daily": "Negative mentions per day", "daily_chart": "Negative mentions per day",
        "all": "All",
        "by_entity": "By doctor or clinic", "by_source": "By source", "by_cause": "Causes of negative mentions",
        "entity": "Doctor or clinic", "source": "Source", "cause": "Cause", "type": "Type",
        "golden": "Golden hour", "golden_lead": "{n} incidents opened this week, {acked} acknowledged, "
                                               "{inside} inside their deadline.",
        "late": "Incidents acknowledged late or not at all", "detected": "Detected", "ack": "Acknowledged",
        "acked_after": "acked after {d}", "not_acked": "not acknowledged", "no_incidents": "No incidents this week.",
        "health": "Source health", "state": "State", "last_ok": "Last success", "failures": "Failures in a row",
        "week_mentions": "Mentions this week",
        "states": {"ok": "ok", "failing": "failing", "blocked": "blocked", "auth-failed": "auth failed",
                   "silent": "silent", "new": "not polled yet", "disabled": "disabled"},
        "never": "never", "none": "none", "quiet": "No mentions this week. Check that every source is healthy "
                                                   "(repwatch sources).",
        "note": "Figures only, no mention text. Negative share = negative mentions / scored mentions; p50/p90 are "
                "nearest-rank percentiles.",
        "pts": "{sign}{v:.1f} pts", "min": "{m} min", "hm": "{h} h {m} min", "empty": "No data",
        "more": "… {n} more not shown",
        "weekdays": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), "wd": "{d}",
        "sources_problem": "Sources with problems: {names}",
        "share_line": "Negative share {share} ({change})", "top": "Most negative: {rows}", "row": "{name} {n}",
    },
}


def strings(language: str) -> dict:
    return STRINGS.get(language, STRINGS["en"])


def percent(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.1f}%"


def change(t: dict, share: float | None, before: float | None) -> str:
    """The change in percentage points, signed; "—" when either week has no scored mention."""
    if share is None or before is None:
        return "—"
    v = (share - before) * 100
    v = 0.0 if round(v, 1) == 0 else v
    return t["pts"].format(sign="+" if v > 0 else ("−" if v < 0 else "±"), v=abs(v))


def duration(t: dict, d: timedelta | None) -> str:
    """Whole minutes (rounded); hours and minutes from an hour on."""
    if d is None:
        return "—"
    minutes = round(d.total_seconds() / 60)
    return t["min"].format(m=minutes) if minutes < 60 else t["hm"].format(h=minutes // 60, m=minutes % 60)


def weekday(t: dict, when: datetime) -> str:
    return t["wd"].format(d=t["weekdays"][when.weekday()])


def zone_label(when: datetime) -> str:
    """The zone as an offset ("UTC+08:00"): unambiguous where abbreviations are not (CST)."""
    off = when.strftime("%z")
    return f"UTC{off[:3]}:{off[3:]}"
