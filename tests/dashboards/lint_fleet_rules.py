#!/usr/bin/env python3
"""Lints the fleet rules as a real Prometheus loads them together with the per-host rules (so the
two files must also load side by side): the five fleet alerts, each with `for:`, severity and
service labels, summary, a description showing the value, a runbook_url at its own section of
docs/runbooks.md (symptom, causes, what to check with wsm and the API, fixes), recording rules
that exist for every one it reads, and the two thresholds it shares with the per-host alerts equal
to theirs (the fleet file is written by hand, the per-host one rendered by wsm-alerts).

With ANOMALY_RULES (issue 20's websocket-anomaly-rules.yml, also written by hand) all three files
are loaded together and the five anomaly alerts get the same checks, plus their own: severity
warning and `for: 10m`; every day-band alert requires six hours of history (`_count1d >= 360`); every
band bound floors sigma (`clamp_min(stddev >= mean / 20 or mean / 20, minimum)`), so that a flat
day cannot alert on noise.

usage: lint_fleet_rules.py FLEET_RULES ALERT_RULES RUNBOOKS_MD [ANOMALY_RULES]
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
# Anomaly alert -> whether it compares with the day's band (and so needs the history guard).
ANOMALY_ALERTS = {"WebSocketTrafficAnomaly": True, "WebSocketLatencyAnomaly": True,
                  "WebSocketFailureAnomaly": True, "WebSocketConnectionsAnomaly": True,
                  "WebSocketConnectionsWeekOverWeekDrop": False}
HISTORY_GUARD = re.compile(r"_count1d\s*>=\s*360\b")
SIGMA_FLOOR = re.compile(r"clamp_min\((\S+_stddev1d) >= (\S+_avg1d) / 20 or (\S+_avg1d) / 20, [0-9.]+\)")


def threshold(query):
    m = re.search(r">\s*([0-9.]+)\s*$", query.strip())
    return float(m.group(1)) if m else None


def alerts_of(groups, path):
    return {r["name"]: r for g in groups if g["file"] == path for r in g["rules"] if r["type"] == "alerting"}


def lint_anomaly(groups, anomaly_file, records, sections):
    errors = []
    alerts = alerts_of(groups, anomaly_file)
    if set(alerts) != set(ANOMALY_ALERTS):
        errors.append("anomaly alerts are %s, expected %s" % (sorted(alerts), sorted(ANOMALY_ALERTS)))
    for name, a in sorted(alerts.items()):
        errors += alert_errors(name, a, records, sections)
        labels = a.get("labels", {})
        if labels.get("service") != "websocket" or labels.get("severity") != "warning":
            errors.append("alert %s: labels %s, expected severity warning, service websocket" % (name, labels))
        if a.get("duration") != 600:
            errors.append("alert %s: for %ss, expected 10m" % (name, a.get("duration")))
        if ANOMALY_ALERTS.get(name) and not HISTORY_GUARD.search(a["query"]):
            errors.append("alert %s: no history guard (_count1d >= 360) in %s" % (name, a["query"]))
    bounds = [r for g in groups if g["file"] == anomaly_file for r in g["rules"]
              if r["type"] == "recording" and re.search(r"_(upper|lower)1d$", r["name"])]
    if not bounds:
        errors.append("no _upper1d/_lower1d band rules in %s" % anomaly_file)
    for r in bounds:
        m = SIGMA_FLOOR.search(r["query"])
        base = r["name"].rsplit("_", 1)[0]
        if not m or m.groups() != (base + "_stddev1d", base + "_avg1d", base + "_avg1d"):
            errors.append("record %s: sigma not floored as clamp_min(%s_stddev1d >= %s_avg1d / 20 or ..., min): %s"
                          % (r["name"], base, base, r["query"]))
    return errors


def lint(groups, fleet_file, sections, alerts_file=None, anomaly_file=None):
    errors = []
    rules = [r for g in groups for r in g["rules"]]
    records = {r["name"] for r in rules if r["type"] == "recording"}
    fleet = alerts_of(groups, fleet_file)
    host = {r["name"]: r for g in groups if g["file"] not in (fleet_file, anomaly_file) for r in g["rules"]
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
    if anomaly_file:
        errors += lint_anomaly(groups, anomaly_file, records, sections)
    return errors


def main():
    fleet_file, alerts_file, runbooks = (os.path.abspath(p) for p in sys.argv[1:4])
    anomaly_file = os.path.abspath(sys.argv[4]) if len(sys.argv) > 4 else None
    groups = loaded_groups([alerts_file] + ([anomaly_file] if anomaly_file else []) + [fleet_file])
    if groups is None:
        return 1
    if anomaly_file and not any(g["file"] == anomaly_file for g in groups):
        print("Prometheus loaded no rule groups from %s" % anomaly_file)
        return 1
    errors = lint(groups, fleet_file, runbook_sections(runbooks), alerts_file, anomaly_file)
    for e in errors:
        print(e)
    n = sum(len(g["rules"]) for g in groups if g["file"] == fleet_file)
    m = sum(len(g["rules"]) for g in groups if g["file"] == anomaly_file)
    print("%d fleet rules, %d anomaly rules, %d problems" % (n, m, len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
