"""A local server of N Google Alerts-style Atom feeds for ``bench/scale.py``.

Each feed ``/alerts/feeds/<i>`` holds 3-5 entries naming some of 50 entities, shaped like
``connectors/fixtures/google_alerts/feed.xml`` (Google redirect links, ``<b>`` markup). A
feed answers ``If-None-Match`` with 304 while it is unchanged. A chosen fraction of feeds
publishes one new negative entry (a malpractice-and-lawsuit story about one entity, which
the example's severe rule pages on) a planned delay after repwatch first polled that feed,
which changes its ETag. repwatch stores a source's first poll as history (backfill, never
paged), so a negative published on the wall clock before that poll would never page; one
published after it reaches the daemon as a live mention in a later poll.

Every request is logged (arrival time, feed, client, status, feed version); the client is
told by its User-Agent (``bench-baseline``, ``bench-capacity``, anything else: repwatch).
The log is written as TSV when the server gets SIGTERM or SIGINT. It is one asyncio
process, so its CPU is its own and not the daemon's: run it as

    python bench/feedserver.py --feeds 1000 --log requests.tsv [--latency-ms 200]

and read the port from its first line of output (``PORT <n>``).
"""
from __future__ import annotations

import argparse
import asyncio
import random
import signal
import time
from dataclasses import dataclass
from html import escape

SURNAMES = ("陳", "林", "黃", "張", "李", "王", "吳", "劉", "蔡", "楊")
GIVEN = ("志明", "淑芬", "建宏", "美玲", "俊傑")
ENTITIES = tuple(f"{s}{g}醫師" for s in SURNAMES for g in GIVEN)  # 50 names, none inside another
CALM = (
    ("{e}週六舉辦糖尿病衛教講座", "{e}將於本週六上午在社區活動中心舉辦衛教講座,開放民眾報名"),
    ("病患大推{e} 細心解說", "多位病患表示{e}看診細心,耐心解說檢查結果"),
    ("{e}獲選年度優良醫師", "{e}長期投入社區醫療,獲選今年度優良醫師"),
    ("{e}受邀分享高血壓照護", "{e}在健康講座中分享高血壓居家照護的重點"),
)
NEGATIVE = ("{e}爆發醫療疏失 家屬提告求償",
            "{e}看診草率,病患術後感染,家屬憤怒提告求償,要求診所道歉")
CLIENTS = {"bench-baseline": "b", "bench-capacity": "c"}


def feed_path(i: int) -> str:
    return f"/alerts/feeds/{i}"


@dataclass(frozen=True)
class Negative:
    feed: int
    entity: int
    at: float  # seconds after repwatch's first request for the feed


def negatives(feeds: int, fraction: float, after: float, until: float, seed: int = 1) -> list[Negative]:
    """Which feeds publish a negative entry, about which entity, and how long after the
    feed's first poll by repwatch (deterministic)."""
    rng = random.Random(seed)
    count = min(feeds, round(feeds * fraction))
    chosen = rng.sample(range(feeds), count)
    return [Negative(f, k % len(ENTITIES), rng.uniform(after, max(after, until))) for k, f in enumerate(chosen)]


def _entry(feed: int, n: int, name: str, template: tuple[str, str], when: str) -> str:
    """One entry; the name is in Google's ``<b>`` highlight, the whole escaped as type="html"."""
    url = f"https://news.example.tw/{feed}/{n}"
    link = f"https://www.google.com/url?rct=j&sa=t&url={url}&ct=ga&cd=CAIyHGJlbmNo&usg=AOvVaw{feed}x{n}"
    bold = f"<b>{name[:-2]}</b>{name[-2:]}"
    title, text = (part.format(e=bold) for part in template)
    return (f"<entry><id>tag:google.com,2013:googlealerts/feed:{feed * 10 + n}</id>"
            f'<title type="html">{escape(title)}</title><link href="{escape(link)}"></link>'
            f"<published>{when}</published><updated>{when}</updated>"
            f'<content type="html">{escape(text)}&amp;nbsp;...</content><author><name></name></author></entry>')


def feed_body(i: int, negative: Negative | None, started: float, published: float = 0.0) -> bytes:
    """Feed ``i``: 3-5 calm entries, plus the negative one on top once it is published
    (at ``published``, time.time())."""
    stamp = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))  # noqa: E731
    entries = []
    for n in range(3 + i % 3):
        name = ENTITIES[(i * 7 + n) % len(ENTITIES)]
        entries.append(_entry(i, n, name, CALM[(i + n) % len(CALM)], stamp(started - 3600 * (n + 1))))
    if negative is not None:
        entries.insert(0, _entry(i, 9, ENTITIES[negative.entity], NEGATIVE, stamp(published or started)))
    head = ('<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
            f'xmlns:idx="urn:atom-extension:indexing"><id>tag:google.com,2005:reader/user/0/state/com.google/alerts/{i}'
            f'</id><title>Google 快訊 - bench {i}</title><link href="https://www.google.com/alerts/feeds/0/{i}" '
            f'rel="self"></link><updated>{stamp(time.time())}</updated>')
    return (head + "".join(entries) + "</feed>").encode("utf-8")


class Feeds:
    """The feeds' state and the request log; answers one parsed request."""

    def __init__(self, count: int, planned: list[Negative], started: float):
        self.count = count
        self.planned = {n.feed: n for n in planned}
        self.started = started
        self.first_polled: dict[int, float] = {}  # feed -> repwatch's first request (time.time())
        self.bodies: dict[tuple[int, int], bytes] = {}
        self.log: list[tuple[float, int, str, int, int]] = []

    def respond(self, path: str, headers: dict[str, str]) -> tuple[int, str, bytes]:
        now = time.time()
        prefix, _, tail = path.rpartition("/")
        if prefix != "/alerts/feeds" or not tail.isdigit() or int(tail) >= self.count:
            return 404, "", b""
        i = int(tail)
        client = CLIENTS.get(headers.get("user-agent", "").split("/")[0], "r")
        if client == "r":
            self.first_polled.setdefault(i, now)
        neg = self.planned.get(i)
        version = int(neg is not None and i in self.first_polled and now - self.first_polled[i] >= neg.at)
        etag = f'"{i}-{version}"'
        status = 304 if headers.get("if-none-match") == etag else 200
        self.log.append((now, i, client, status, version))
        if status == 304:
            return 304, etag, b""
        body = self.bodies.get((i, version))
        if body is None:
            published = self.first_polled[i] + neg.at if version else 0.0
            body = self.bodies[(i, version)] = feed_body(i, neg if version else None, self.started, published)
        return 200, etag, body

    def write_log(self, path: str) -> None:
        """The requests (time, feed, client, status, version) to ``path``; the plan of
        negatives (feed, entity index, seconds after the feed's first poll) to ``path.plan``."""
        with open(path, "w", encoding="utf-8") as out:
            out.writelines(f"{t:.4f}\t{i}\t{c}\t{s}\t{v}\n" for t, i, c, s, v in self.log)
        with open(path + ".plan", "w", encoding="utf-8") as out:
            out.writelines(f"{n.feed}\t{n.entity}\t{n.at:.3f}\n" for n in self.planned.values())


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, dict[str, str]] | None:
    line = await reader.readline()
    if not line:
        return None
    headers = {}
    while (h := await reader.readline()) not in (b"\r\n", b"\n", b""):
        key, _, value = h.decode("latin-1").partition(":")
        headers[key.strip().lower()] = value.strip()
    parts = line.decode("latin-1").split()
    return (parts[1] if len(parts) > 1 else "/"), headers


def handler(feeds: Feeds, latency: float):
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while (request := await _read_request(reader)) is not None:
                path, headers = request
                if latency:
                    await asyncio.sleep(latency)
                status, etag, body = feeds.respond(path, headers)
                reason = {200: "OK", 304: "Not Modified", 404: "Not Found"}[status]
                head = f"HTTP/1.1 {status} {reason}\r\nContent-Length: {len(body)}\r\n"
                if etag:
                    head += f"ETag: {etag}\r\n"
                if status == 200:
                    head += "Content-Type: application/atom+xml; charset=utf-8\r\n"
                writer.write(head.encode() + b"\r\n" + body)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (ConnectionError, ValueError):
            pass
        finally:
            writer.close()
    return handle


async def serve(args: argparse.Namespace) -> None:
    started = time.time()
    planned = negatives(args.feeds, args.negative_fraction, args.inject_after, args.inject_until, args.seed)
    feeds = Feeds(args.feeds, planned, started)
    server = await asyncio.start_server(handler(feeds, args.latency_ms / 1000), "127.0.0.1", args.port,
                                        backlog=4096, limit=1 << 16)
    print(f"PORT {server.sockets[0].getsockname()[1]} STARTED {started:.4f}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()
    feeds.write_log(args.log)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--log", required=True, help="where the request log goes (TSV) on SIGTERM")
    ap.add_argument("--latency-ms", type=float, default=0.0, help="added before each response")
    ap.add_argument("--negative-fraction", type=float, default=0.0, help="share of feeds that turn negative")
    ap.add_argument("--inject-after", type=float, default=5.0,
                    help="earliest publication, s after repwatch's first request for the feed")
    ap.add_argument("--inject-until", type=float, default=120.0,
                    help="latest publication, s after repwatch's first request for the feed")
    ap.add_argument("--seed", type=int, default=1)
    return ap.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(serve(parse_args()))
