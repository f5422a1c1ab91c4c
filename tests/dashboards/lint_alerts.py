#!/usr/bin/env python3
"""Lints the alert rules as a real Prometheus loads them (GET /api/v1/rules), which is what
`promtool check rules` does not: `for:`, severity and service labels, summary, a description that
shows the value, and a runbook_url that points at the alert's own section of docs/runbooks.md,
which must say what the issue asks (symptom, causes, what to check with wsm and the API, fixes).

usage: lint_alerts.py RULES_FILE RUNBOOKS_MD
"""
import os
import re
import sys
import urllib.parse

from live_stack import get_json, prometheus

# Issue 8's nine alerts.
EXPECTED_ALERTS = {"HighWebSocketLatency", "HighCPU", "HighMemory", "LowCompressionRatio",
                   "ConnectionDrops", "NoConnections", "LowHealthScore", "Backpressure",
                   "HighFailureRate"}
SEVERITIES = {"critical", "warning", "info"}
SECTION_PARTS = ["**Symptom.**", "**Likely causes.**", "**What to check.**", "**Fixes.**"]


def github_anchor(heading):
    """The fragment GitHub (and most Markdown renderers) give a heading."""
    slug = heading.strip().lower()
    slug = re.sub(r"[^\w\- ]", "", slug)
    return slug.replace(" ", "-")


def runbook_sections(path):
    """anchor -> section text (up to the next heading of the same or a higher level)."""
    sections, anchor, lines = {}, None, []
    with open(path) as f:
        for line in f:
            m = re.match(r"^(#{1,6})\s+(.*)$", line)
            if m:
                if anchor is not None:
                    sections[anchor] = "".join(lines)
                anchor, lines = github_anchor(m.group(2)), []
            else:
                lines.append(line)
    if anchor is not None:
        sections[anchor] = "".join(lines)
    return sections


def health_errors(groups):
    """Rules Prometheus could not evaluate."""
    return ["%s: health %s %s" % (r["name"], r.get("health"), r.get("lastError", ""))
            for g in groups for r in g["rules"]
            if r.get("health") not in ("ok", "unknown") or r.get("lastError")]


def alert_errors(name, a, records, sections):
    """What one alert lacks: `for:`, severity and service labels, summary, a description showing
    the value, recording rules for what it reads, and its own runbook section with every part."""
    errors = []
    where = "alert %s" % name
    if not a.get("duration", 0) > 0:
        errors.append("%s: no `for:` duration" % where)
    labels, ann = a.get("labels", {}), a.get("annotations", {})
    if labels.get("severity") not in SEVERITIES:
        errors.append("%s: severity %r not one of %s" % (where, labels.get("severity"), sorted(SEVERITIES)))
    if not labels.get("service"):
        errors.append("%s: no service label" % where)
    if not ann.get("summary"):
        errors.append("%s: no summary" % where)
    if "$value" not in ann.get("description", ""):
        errors.append("%s: description does not show {{ $value }}" % where)
    for used in re.findall(r"[a-z_]+:[a-z0-9_:]+", a["query"]):
        if used not in records:
            errors.append("%s: uses %s, which no recording rule defines" % (where, used))
    url = urllib.parse.urlsplit(ann.get("runbook_url", ""))
    if not url.path.endswith("runbooks.md"):
        errors.append("%s: runbook_url %r is not docs/runbooks.md" % (where, ann.get("runbook_url")))
        return errors
    if url.fragment != github_anchor(name):
        errors.append("%s: runbook_url anchor #%s is not #%s" % (where, url.fragment, github_anchor(name)))
    section = sections.get(url.fragment)
    if section is None:
        errors.append("%s: runbooks.md has no section #%s" % (where, url.fragment))
        return errors
    for part in SECTION_PARTS:
        if part not in section:
            errors.append("%s: runbook section lacks %s" % (where, part))
    check = section.split("**What to check.**")[-1].split("**Fixes.**")[0]
    if "wsm " not in check or "/api/v1/" not in check:
        errors.append("%s: runbook 'What to check' names no `wsm` command or /api/v1/ call" % where)
    return errors


def lint(rules, sections):
    errors = []
    alerts = {r["name"]: r for g in rules for r in g["rules"] if r["type"] == "alerting"}
    records = {r["name"] for g in rules for r in g["rules"] if r["type"] == "recording"}
    if set(alerts) != EXPECTED_ALERTS:
        errors.append("alerts are %s, expected %s" % (sorted(alerts), sorted(EXPECTED_ALERTS)))
    errors += health_errors(rules)
    for name, a in sorted(alerts.items()):
        errors += alert_errors(name, a, records, sections)
    return errors


def loaded_groups(rule_files):
    """The rule groups a real Prometheus loaded from these files, or None (said why) when it
    answered with an error or loaded nothing from the last file."""
    config = "global:\n  evaluation_interval: 1m\nrule_files:\n" + "".join("  - %s\n" % f for f in rule_files)
    with prometheus(config) as base:
        reply = get_json(base + "/api/v1/rules")
    if reply.get("status") != "success":
        print("GET /api/v1/rules: %s" % reply)
        return None
    groups = reply["data"]["groups"]
    if not any(g["file"] == rule_files[-1] for g in groups):
        print("Prometheus loaded no rule groups from %s" % rule_files[-1])
        return None
    return groups


def main():
    rules_file, runbooks = (os.path.abspath(p) for p in sys.argv[1:3])
    groups = loaded_groups([rules_file])
    if groups is None:
        return 1
    errors = lint(groups, runbook_sections(runbooks))
    for e in errors:
        print(e)
    n = sum(len(g["rules"]) for g in groups)
    print("%d rules in %d groups, %d problems" % (n, len(groups), len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
