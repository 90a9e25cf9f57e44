"""The weekly report as one HTML document (inline CSS, inline SVG charts from
:mod:`monitor.charts`, no script, no external asset; a Content-Security-Policy that allows
none), printed to PDF by :mod:`monitor.report.pdf` and sent as the e-mail body, and as a
short summary for chat channels (:func:`report_message`).

Every chart is followed by a table of the same figures, so a mail client that drops SVG
(Gmail does) still shows every number. Names come from the config and are escaped like
any text; no mention text is in the report (it can hold patient data)."""
from __future__ import annotations

import html
from collections import Counter
from datetime import timedelta
from zoneinfo import ZoneInfo

from monitor.causes import cause_names
from monitor.charts import bar_chart, line_chart
from monitor.render import Message
from monitor.render.doc import Doc, render
from monitor.render.safe import safe_text
from monitor.report.facts import Named, WeeklyReport
from monitor.report.text import change, duration, percent, strings, weekday, zone_label

CHART_WIDTH = 680
TABLE_ROWS = 15  # rows of a breakdown table; the rest are counted in a line under it
HEALTH_ROWS = 20  # sources listed under source health, those with problems first
_STATE_ORDER = ("failing", "blocked", "auth-failed", "silent", "new", "ok", "disabled")
_ONE_DAY = timedelta(days=1)
_CSS = """
@page { size: A4; margin: 12mm 12mm 14mm 12mm; }
body { font-family: 'Noto Sans CJK TC', 'Noto Sans TC', 'Noto Sans', 'Helvetica Neue', Arial, sans-serif;
       color: #222; font-size: 11pt; line-height: 1.4; margin: 0 auto; max-width: 720px; }
h1 { font-size: 18pt; margin: 0 0 2pt 0; }
h2 { font-size: 13pt; margin: 14pt 0 4pt 0; border-bottom: 1px solid #ccc; break-after: avoid; }
p { margin: 3pt 0; }
.meta { color: #555; font-size: 9.5pt; }
.chart, tr, .figures { break-inside: avoid; }
table { border-collapse: collapse; width: 100%; font-size: 9.5pt; margin: 4pt 0 6pt 0; }
th, td { border-bottom: 1px solid #e2e2e2; padding: 2pt 6pt; text-align: left; vertical-align: top; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
table.figures td { font-size: 11pt; padding: 3pt 6pt; }
table.figures td.n { font-weight: bold; }
.chart svg { max-width: 100%; height: auto; display: block; margin: 2pt 0; }
.bad { color: #b00020; }
.note { color: #666; font-size: 8.5pt; margin-top: 14pt; }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _table(head: list[str], rows: list[list[object]], numeric: set[int] = frozenset(), cls: str = "") -> str:
    th = "".join(f'<th class="n">{_e(h)}</th>' if i in numeric else f"<th>{_e(h)}</th>" for i, h in enumerate(head))
    body = "".join("<tr>" + "".join(f'<td class="n">{_e(c)}</td>' if i in numeric else f"<td>{_e(c)}</td>"
                                    for i, c in enumerate(r)) + "</tr>" for r in rows)
    attr = f' class="{cls}"' if cls else ""
    head_row = f"<thead><tr>{th}</tr></thead>" if any(head) else ""
    return f"<table{attr}>{head_row}<tbody>{body}</tbody></table>"


def _day(r: WeeklyReport, when) -> str:
    return when.astimezone(ZoneInfo(r.timezone)).strftime("%Y-%m-%d")


def _header(r: WeeklyReport, t: dict) -> str:
    zone = ZoneInfo(r.timezone)
    first, last = r.start.astimezone(zone), (r.end.astimezone(zone) - _ONE_DAY)
    period = t["period"].format(start=first.strftime("%Y-%m-%d"), wd_start=weekday(t, first),
                                last=last.strftime("%Y-%m-%d"), wd_last=weekday(t, last),
                                zone=f"{r.timezone}, {zone_label(last)}")
    at = r.generated_at.astimezone(zone)
    generated = t["generated"].format(at=at.strftime("%Y-%m-%d %H:%M ") + zone_label(at), route=r.route_id)
    return f"<header><h1>{_e(t['heading'])}</h1><p>{_e(period)}</p><p class=\"meta\">{_e(generated)}</p></header>"


def _summary(r: WeeklyReport, t: dict) -> str:
    w, prev, g = r.week, r.previous, r.golden
    before = prev.share if prev else None
    rows = [[t["mentions"], w.tally.total], [t["scored"], w.tally.scored], [t["negative"], w.tally.negative],
            [t["share"], percent(w.share)],
            [t["change"], change(t, w.share, before) + (f" ({t['previous'].format(share=percent(before))})"
                                                        if before is not None else "")],
            [t["incidents"], g.incidents],
            [t["in_hour"], t["of"].format(k=g.acked_in_hour, n=g.incidents, share=percent(g.share_in_hour))],
            [t["p50"], duration(t, g.p50)], [t["p90"], duration(t, g.p90)]]
    body = _table(["", ""], rows, {1}, "figures")
    quiet = f"<p>{_e(t['quiet'])}</p>" if not w.tally.total else ""
    return f"<section><h2>{_e(t['summary'])}</h2>{body}{quiet}</section>"


def _trend(r: WeeklyReport, t: dict) -> str:
    points = [(w.start, round(w.share * 100, 1)) for w in r.trend if w.share is not None]
    svg = line_chart({t["share"]: points}, title=t["trend_chart"], y_label="%", width=CHART_WIDTH, height=220,
                     tz=r.timezone, empty=t["empty"])
    rows = [[_day(r, w.start), w.tally.total, w.tally.negative, percent(w.share)] for w in r.trend]
    table = _table([t["week_of"], t["mentions"], t["negative"], t["share"]], rows, {1, 2, 3})
    return f"<section><h2>{_e(t['trend'].format(n=len(r.trend)))}</h2><div class=\"chart\">{svg}</div>{table}</section>"


def _daily(r: WeeklyReport, t: dict) -> str:
    """The most negative entities day by day (the total would dwarf them: it is in the table)."""
    series = {name: [(day, float(n)) for day, n in points] for name, points in r.daily[1:]}
    if not any(n for _, points in r.daily for _, n in points):
        series = {}
    svg = line_chart(series, title=t["daily_chart"], width=CHART_WIDTH, height=230, tz=r.timezone, empty=t["empty"])
    days = [day for day, _ in r.daily[0][1]] if r.daily else []
    head = [""] + [f"{d.strftime('%m-%d')} {weekday(t, d)}" for d in days]
    rows = [[name] + [n for _, n in points] for name, points in r.daily] if series else []
    table = _table(head, rows, set(range(1, len(head)))) if rows else ""
    return f"<section><h2>{_e(t['daily'])}</h2><div class=\"chart\">{svg}</div>{table}</section>"


def _breakdown(title: str, col: str, items: tuple[Named, ...], t: dict, limit: int = 12) -> str:
    shown = [i for i in items if i.negative][:limit]
    svg = bar_chart([(i.name, float(i.negative)) for i in shown], title=f"{title}: {t['negative']}",
                    width=CHART_WIDTH, height=max(90, 36 + 24 * len(shown)), empty=t["empty"])
    rows = [[i.name, i.total, i.negative, percent(i.share)] for i in items[:TABLE_ROWS]]
    table = _table([col, t["mentions"], t["negative"], t["share"]], rows, {1, 2, 3}) if rows else ""
    more = _more(t, items, TABLE_ROWS)
    return f"<section><h2>{_e(title)}</h2><div class=\"chart\">{svg}</div>{table}{more}</section>"


def _causes(r: WeeklyReport, t: dict) -> str:
    items = [(cause_names((c,), r.language), float(n)) for c, n in r.causes]
    svg = bar_chart(items, title=t["by_cause"], width=CHART_WIDTH, height=max(90, 36 + 24 * len(items)),
                    empty=t["empty"])
    table = _table([t["cause"], t["negative"]], [[name, int(n)] for name, n in items], {1}) if items else ""
    return f"<section><h2>{_e(t['by_cause'])}</h2><div class=\"chart\">{svg}</div>{table}</section>"


def _golden(r: WeeklyReport, t: dict) -> str:
    g = r.golden
    out = [f"<h2>{_e(t['golden'])}</h2>"]
    if not g.incidents:
        return f"<section>{out[0]}<p>{_e(t['no_incidents'])}</p></section>"
    out.append(f"<p>{_e(t['golden_lead'].format(n=g.incidents, acked=g.acked, inside=g.acked_in_hour))}</p>")
    out.append(_table([t["in_hour"], t["p50"], t["p90"]], [[
        t["of"].format(k=g.acked_in_hour, n=g.incidents, share=percent(g.share_in_hour)),
        duration(t, g.p50), duration(t, g.p90)]], {0, 1, 2}))
    if g.late:
        zone = ZoneInfo(r.timezone)
        rows = [[f"#{i.id}", r.entity_names.get(i.entity_id, i.entity_id),
                 i.first_detected_at.astimezone(zone).strftime("%m-%d %H:%M"),
                 t["acked_after"].format(d=duration(t, i.acked_at - i.first_detected_at)) if i.acked_at
                 else t["not_acked"]] for i in g.late[:20]]
        out.append(f"<p>{_e(t['late'])}</p>" + _table(["#", t["entity"], t["detected"], t["ack"]], rows))
    return "<section>" + "".join(out) + "</section>"


def _more(t: dict, items, shown: int) -> str:
    return f"<p class=\"meta\">{_e(t['more'].format(n=len(items) - shown))}</p>" if len(items) > shown else ""


def _health(r: WeeklyReport, t: dict) -> str:
    zone = ZoneInfo(r.timezone)
    ordered = sorted(r.health, key=lambda s: (_STATE_ORDER.index(s.state) if s.state in _STATE_ORDER else 0, s.id))
    counts = Counter(s.state for s in r.health)
    summary = " · ".join(f"{t['states'].get(k, k)} {counts[k]}" for k in _STATE_ORDER if counts[k])
    # a few sources: all of them; many: those that are not ok (the ok ones are in the count line)
    shown = ordered if len(ordered) <= HEALTH_ROWS else [s for s in ordered if s.state != "ok"][:HEALTH_ROWS]
    rows = []
    for s in shown:
        state = t["states"].get(s.state, s.state)
        rows.append([s.id, s.type, state, s.last_success_at.astimezone(zone).strftime("%m-%d %H:%M")
                     if s.last_success_at else t["never"], s.failures, s.mentions])
    table = _table([t["source"], t["type"], t["state"], t["last_ok"], t["failures"], t["week_mentions"]], rows,
                   {4, 5}) if rows else ""
    bad = [s.id for s in r.health if s.state in ("failing", "blocked", "auth-failed", "silent")]
    lead = f"<p class=\"bad\">{_e(t['sources_problem'].format(names=', '.join(bad)))}</p>" if bad else ""
    return (f"<section><h2>{_e(t['health'])}</h2>{lead}<p>{_e(summary)}</p>{table}"
            f"{_more(t, ordered, len(shown))}</section>")


def report_html(r: WeeklyReport) -> str:
    """The whole report as a standalone HTML document."""
    t = strings(r.language)
    lang = "zh-Hant-TW" if r.language == "zh-TW" else "en"
    body = "".join([
        _header(r, t), _summary(r, t), _trend(r, t), _daily(r, t),
        _breakdown(t["by_entity"], t["entity"], r.entities, t), _breakdown(t["by_source"], t["source"], r.sources, t),
        _causes(r, t), _golden(r, t), _health(r, t), f"<p class=\"note\">{_e(t['note'])}</p>"])
    return (f"<!DOCTYPE html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{_e(title(r))}</title><style>{_CSS}</style></head><body>{body}</body></html>\n")


def title(r: WeeklyReport) -> str:
    t = strings(r.language)
    return t["title"].format(start=_day(r, r.start), last=_day(r, r.end - _ONE_DAY))


def report_message(r: WeeklyReport) -> Message:
    """The notification: a summary in text and markdown for chat, the whole document as HTML."""
    t = strings(r.language)
    w, prev, g = r.week, r.previous, r.golden
    doc = Doc(title(r))
    doc.p(t["share_line"].format(share=percent(w.share), change=change(t, w.share, prev.share if prev else None)))
    doc.p(f"{t['mentions']} {w.tally.total} · {t['negative']} {w.tally.negative}")
    top = [t["row"].format(name=safe_text(e.name, 40), n=e.negative) for e in r.entities if e.negative][:3]
    if top:
        doc.p(t["top"].format(rows=", ".join(top)))
    doc.p(f"{t['in_hour']}: " + t["of"].format(k=g.acked_in_hour, n=g.incidents, share=percent(g.share_in_hour))
          + f" · {t['p50']} {duration(t, g.p50)} · {t['p90']} {duration(t, g.p90)}")
    bad = [s.id for s in r.health if s.state in ("failing", "blocked", "auth-failed", "silent")]
    if bad:
        doc.p(t["sources_problem"].format(names=", ".join(safe_text(b, 40) for b in bad)))
    msg = render(doc)
    return Message(msg.title, msg.text, msg.markdown, report_html(r))

