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

from lint_alerts import alert_errors, health_errors, loaded_groups, runbook_sections

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
    errors += health_errors(groups)
    for name, a in sorted(fleet.items()):
        errors += alert_errors(name, a, records, sections)
        if a.get("labels", {}).get("service") != "websocket":
            errors.append("alert %s: service label is not websocket" % name)
        if name in SHARED_THRESHOLDS:
            other = host.get(SHARED_THRESHOLDS[name])
            mine = threshold(a["query"])
            theirs = threshold(other["query"]) if other else None
            if mine is None or mine != theirs:
                errors.append("alert %s: threshold %s differs from %s's %s"
                              % (name, mine, SHARED_THRESHOLDS[name], theirs))
    return errors


def main():
    fleet_file, alerts_file, runbooks = (os.path.abspath(p) for p in sys.argv[1:4])
    groups = loaded_groups([alerts_file, fleet_file])
    if groups is None:
        return 1
    errors = lint(groups, fleet_file, runbook_sections(runbooks))
    for e in errors:
        print(e)
    n = sum(len(g["rules"]) for g in groups if g["file"] == fleet_file)
    print("%d fleet rules, %d problems" % (n, len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
