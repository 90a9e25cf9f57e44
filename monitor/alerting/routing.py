"""Which routes take an alert: a pure function of its labels and the routes (Alertmanager's
``dispatch/route.go``), and the key of the group it joins on a route."""
from __future__ import annotations

import json
from typing import Mapping, Sequence

from monitor.config import Route
from monitor.labels import matches_all


def routes_for(labels: Mapping[str, str], routes: Sequence[Route]) -> list[Route]:
    """An alert naming a route (label ``route``: a rule's ``route``, the ops route) goes there,
    or nowhere when no such route exists. Otherwise routes with ``matchers`` are tried in
    order and the first match wins, unless it says ``continue = true``. A route without
    matchers takes only alerts that name it. An empty list: the alert is unrouted."""
    named = labels.get("route")
    if named:
        return [r for r in routes if r.id == named][:1]
    chosen = []
    for route in routes:
        if route.matchers and matches_all(route.matchers, labels):
            chosen.append(route)
            if not route.continue_:
                break
    return chosen


def group_key(route: Route, labels: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """(key, labels) of the group an alert joins on ``route``: its ``group_by`` labels."""
    values = {k: labels.get(k, "") for k in route.group_by}
    return json.dumps(values, sort_keys=True, ensure_ascii=False), values
