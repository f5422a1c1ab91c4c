#!/usr/bin/env python3
"""Lints the fleet rules as a real Prometheus loads them together with the per-host rules (so the
two files must also load side by side): the five fleet alerts, each with `for:`, severity and
service labels, summary, a description showing the value, a runbook_url at its own section of
docs/runbooks.md (symptom, causes, what to check with wsm and the API, fixes), recording rules
that exist for every one it reads, and the two thresholds it shares with the per-host alerts equal
to theirs (the fleet file is written by hand, the per-host one rendered by wsm-alerts).

usage: lint_fleet_rules.py FLEET_RULES ALERT_RULES RUNBOOKS_MD
"""
import os
import re
import sys
import urllib.parse

from lint_alerts import SECTION_PARTS, SEVERITIES, github_anchor, runbook_sections
from live_stack import get_json, prometheus

FLEET_ALERTS = {"WebSocketExporterDown", "WebSocketExporterAbsent", "WebSocketHostConnectionImbalance",
                "WebSocketFleetLatencyHigh", "WebSocketFleetFailureRateHigh"}
# fleet alert -> the per-host alert whose threshold it shares.
SHARED_THRESHOLDS = {"WebSocketFleetLatencyHigh": "HighWebSocketLatency",
                     "WebSocketFleetFailureRateHigh": "HighFailureRate"}


def threshold(query):
    m = re.search(r">\s*([0-9.]+)\s*$", query.strip())
    return float(m.group(1)) if m else None


def lint(groups, fleet_file, sections):
    errors = []
    rules = [r for g in groups for r in g["rules"]]
    records = {r["name"] for r in rules if r["type"] == "recording"}
    fleet = {r["name"]: r for g in groups if g["file"] == fleet_file for r in g["rules"]
             if r["type"] == "alerting"}
    host = {r["name"]: r for g in groups if g["file"] != fleet_file for r in g["rules"]
            if r["type"] == "alerting"}
    if set(fleet) != FLEET_ALERTS:
        errors.append("fleet alerts are %s, expected %s" % (sorted(fleet), sorted(FLEET_ALERTS)))
    for r in rules:
        if r.get("health") not in ("ok", "unknown") or r.get("lastError"):
            errors.append("%s: health %s %s" % (r["name"], r.get("health"), r.get("lastError", "")))
    for name, a in sorted(fleet.items()):
        where = "alert %s" % name
        if not a.get("duration", 0) > 0:
            errors.append("%s: no `for:` duration" % where)
        labels, ann = a.get("labels", {}), a.get("annotations", {})
        if labels.get("severity") not in SEVERITIES:
            errors.append("%s: severity %r not one of %s" % (where, labels.get("severity"), sorted(SEVERITIES)))
        if labels.get("service") != "websocket":
            errors.append("%s: service label is not websocket" % where)
        if not ann.get("summary"):
            errors.append("%s: no summary" % where)
        if "$value" not in ann.get("description", ""):
            errors.append("%s: description does not show {{ $value }}" % where)
        for used in re.findall(r"[a-z_]+:[a-z0-9_:]+", a["query"]):
            if used not in records:
                errors.append("%s: uses %s, which no recording rule defines" % (where, used))
        if name in SHARED_THRESHOLDS:
            other = host.get(SHARED_THRESHOLDS[name])
            mine = threshold(a["query"])
            theirs = threshold(other["query"]) if other else None
            if mine is None or mine != theirs:
                errors.append("%s: threshold %s differs from %s's %s"
                              % (where, mine, SHARED_THRESHOLDS[name], theirs))
        url = urllib.parse.urlsplit(ann.get("runbook_url", ""))
        if not url.path.endswith("runbooks.md") or url.fragment != github_anchor(name):
            errors.append("%s: runbook_url %r is not docs/runbooks.md#%s"
                          % (where, ann.get("runbook_url"), github_anchor(name)))
            continue
        section = sections.get(url.fragment)
        if section is None:
            errors.append("%s: runbooks.md has no section #%s" % (where, url.fragment))
            continue
        for part in SECTION_PARTS:
            if part not in section:
                errors.append("%s: runbook section lacks %s" % (where, part))
        check = section.split("**What to check.**")[-1].split("**Fixes.**")[0]
        if "wsm " not in check or "/api/v1/" not in check:
            errors.append("%s: runbook 'What to check' names no `wsm` command or /api/v1/ call" % where)
    return errors


def main():
    fleet_file, alerts_file, runbooks = (os.path.abspath(p) for p in sys.argv[1:4])
    config = "global:\n  evaluation_interval: 1m\nrule_files:\n  - %s\n  - %s\n" % (alerts_file, fleet_file)
    with prometheus(config) as base:
        reply = get_json(base + "/api/v1/rules")
    if reply.get("status") != "success":
        print("GET /api/v1/rules: %s" % reply)
        return 1
    groups = reply["data"]["groups"]
    if not any(g["file"] == fleet_file for g in groups):
        print("Prometheus loaded no rule groups from %s" % fleet_file)
        return 1
    errors = lint(groups, fleet_file, runbook_sections(runbooks))
    for e in errors:
        print(e)
    n = sum(len(g["rules"]) for g in groups if g["file"] == fleet_file)
    print("%d fleet rules, %d problems" % (n, len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
