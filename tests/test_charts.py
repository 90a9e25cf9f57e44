"""monitor.charts: the SVG parses as XML, points and bars sit where the data puts them
(read back through the drawn axes), hostile labels stay text, empty data keeps a frame."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from monitor.charts import bar_chart, line_chart, nice_ticks, time_ticks

NS = {"s": "http://www.w3.org/2000/svg"}
T0 = datetime(2026, 3, 2, 0, 0, tzinfo=timezone.utc)
HOSTILE = '<script>alert("x")</script>&amp;\x00\x1b\u202e]]>'


def _parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return root


def _y_scale(root: ET.Element):
    """value -> y, fitted from two drawn y ticks (their data-value and their grid line)."""
    ticks = root.findall(".//s:g[@class='ytick']", NS)
    (v0, y0), (v1, y1) = [(float(g.get("data-value")), float(g.find("s:line", NS).get("y1")))
                          for g in (ticks[0], ticks[-1])]
    return lambda v: y0 + (v - v0) * (y1 - y0) / (v1 - v0)


def test_line_chart_points_follow_the_data():
    a = [(T0 + timedelta(days=d), float(v)) for d, v in enumerate([3, 7, 0, 12, 5, 9, 1])]
    b = [(T0 + timedelta(days=d), float(v)) for d, v in enumerate([1, 1, 2, 2, 4, 0, 0])]
    root = _parse(line_chart({"Dr. A": a, "Clinic B": b}, title="Negative per day", y_label="mentions"))
    groups = root.findall(".//s:g[@class='series']", NS)
    assert [g.get("data-name") for g in groups] == ["Dr. A", "Clinic B"]
    y_of = _y_scale(root)
    for g, data in zip(groups, (a, b)):
        circles = g.findall("s:circle", NS)
        assert [(datetime.fromisoformat(c.get("data-x")), float(c.get("data-y"))) for c in circles] == data
        for c, (_, v) in zip(circles, data):
            assert float(c.get("cy")) == pytest.approx(y_of(v), abs=0.1)
        xs = [float(c.get("cx")) for c in circles]
        assert xs == sorted(xs) and len(set(xs)) == len(xs)
        # x is linear in time: equal days, equal steps
        steps = {round(x2 - x1, 1) for x1, x2 in zip(xs, xs[1:])}
        assert max(steps) - min(steps) <= 0.2
        poly = [tuple(map(float, p.split(","))) for p in g.find("s:polyline", NS).get("points").split()]
        assert poly == [(float(c.get("cx")), float(c.get("cy"))) for c in circles]
    legend = [t.text for t in root.findall(".//s:g[@class='legend-item']/s:text", NS)]
    assert legend == ["Dr. A", "Clinic B"]
    # the highest tick covers the largest value; the axis starts at zero
    values = [float(g.get("data-value")) for g in root.findall(".//s:g[@class='ytick']", NS)]
    assert values[0] == 0 and values[-1] >= 12


def test_line_chart_time_axis_in_the_given_zone():
    pts = [(T0 + timedelta(hours=h), 1.0) for h in range(0, 25, 3)]
    root = _parse(line_chart({"x": pts}, title="t", tz="Asia/Taipei"))
    ticks = [datetime.fromisoformat(g.get("data-time")) for g in root.findall(".//s:g[@class='xtick']", NS)]
    assert ticks and all(t.utcoffset() == timedelta(hours=8) for t in ticks)
    assert all(t.minute == 0 and t.hour % 3 == 0 for t in ticks)
    assert root.find(".//s:text[@class='tz']", NS).text == "UTC+08:00"
    # a tick's x matches where a point at that time is drawn
    circles = {datetime.fromisoformat(c.get("data-x")): float(c.get("cx")) for c in root.iter("{%s}circle" % NS["s"])}
    for g in root.findall(".//s:g[@class='xtick']", NS):
        t = datetime.fromisoformat(g.get("data-time"))
        if t in circles:
            assert float(g.find("s:line", NS).get("x1")) == pytest.approx(circles[t], abs=0.1)


def test_bar_chart_bars_are_proportional():
    items = [("張醫師", 12.0), ("Clinic B", 6.0), ("Dr. C", 3.0), ("zero", 0.0)]
    root = _parse(bar_chart(items, title="By entity"))
    bars = root.findall(".//s:g[@class='bar']", NS)
    assert [(g.get("data-label"), float(g.get("data-value"))) for g in bars] == items
    widths = [float(g.find("s:rect", NS).get("width")) for g in bars]
    assert widths[0] > 0 and widths[3] == 0
    assert widths[1] == pytest.approx(widths[0] / 2, abs=0.1)
    assert widths[2] == pytest.approx(widths[0] / 4, abs=0.1)
    ys = [float(g.find("s:rect", NS).get("y")) for g in bars]
    assert ys == sorted(ys)
    assert [g.findall("s:text", NS)[1].text for g in bars] == ["12", "6", "3", "0"]
    assert bars[0].find("s:text", NS).text == "張醫師"


def test_hostile_labels_stay_text():
    pts = [(T0, 1.0), (T0 + timedelta(hours=5), 2.0)]
    for svg in (line_chart({HOSTILE: pts}, title=HOSTILE, y_label=HOSTILE),
                bar_chart([(HOSTILE, 3.0)], title=HOSTILE)):
        root = _parse(svg)
        assert "<script" not in svg and "\x00" not in svg and "\u202e" not in svg
        assert not root.findall(".//s:script", NS)
        assert root.find("s:title", NS).text == '<script>alert("x")</script>&amp;]]>'
        names = [g.get("data-name") or g.get("data-label") for g in root.iter() if g.get("class") in ("series", "bar")]
        assert names == ['<script>alert("x")</script>&amp;]]>']


@pytest.mark.parametrize("make", [
    lambda: line_chart({}, title="Empty", empty="沒有資料"),
    lambda: line_chart({"a": []}, title="Empty", empty="沒有資料"),
    lambda: bar_chart([], title="Empty", empty="沒有資料"),
])
def test_empty_data_keeps_a_frame(make):
    root = _parse(make())
    assert root.find("s:title", NS).text == "Empty"
    assert root.find(".//s:text[@class='empty']", NS).text == "沒有資料"
    assert not root.findall(".//s:circle", NS) and not root.findall(".//s:g[@class='bar']", NS)


def test_one_point_and_flat_zero_series_still_draw():
    root = _parse(line_chart({"one": [(T0, 0.0)]}, title="t"))
    c = root.find(".//s:circle", NS)
    y_of = _y_scale(root)
    assert float(c.get("cy")) == pytest.approx(y_of(0.0), abs=0.1)
    root = _parse(line_chart({"neg": [(T0, -2.0), (T0 + timedelta(hours=1), 4.0)]}, title="t"))
    values = [float(g.get("data-value")) for g in root.findall(".//s:g[@class='ytick']", NS)]
    assert values[0] <= -2 and values[-1] >= 4


def test_tick_helpers():
    assert nice_ticks(0, 12) == [0, 2.5, 5, 7.5, 10, 12.5]
    assert nice_ticks(0, 100) == [0, 20, 40, 60, 80, 100]
    assert nice_ticks(0, 0.37)[-1] >= 0.37
    week = time_ticks(T0, T0 + timedelta(days=7), ZoneInfo("Asia/Taipei"))
    assert all(t.hour == 0 for t in week) and len(week) <= 8
