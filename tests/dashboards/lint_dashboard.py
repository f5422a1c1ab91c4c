#!/usr/bin/env python3
"""Lints a Grafana view against the issues, the metric catalogue and the alert rules:
layout (unique ids, gridPos inside 24 columns and not overlapping), descriptions and units on every
panel, the datasource variable on every panel, target and query variable, job/instance filters on
every selector, histogram_quantile only over `sum by (le ...)`, `$__rate_interval` for every range,
metric and label names and label values that exist (catalogue or recording rule), legend labels
the result has, thresholds equal to the alerts' (from `wsm-alerts thresholds`), the view's own
scope (VIEWS), and every expression parsing (each one becomes a recording rule of a scratch file
for `promtool check rules`). The rules file's own expressions get the same name checks.
MORE_RULES_YML (the anomaly rules, whose band the operator view's Fleet row draws) add their
recording rules to the names panels may use, and their one-line expressions get the same checks.
The view is told by the dashboard's uid.

usage: lint_dashboard.py DASHBOARD_JSON RULES_YML WSM_ALERTS_BIN [MORE_RULES_YML...]
"""
import json
import os
import re
import subprocess
import sys
import tempfile

from catalogue import COMMON_LABELS, allowed_values, exposed_series

DS_UID = "${datasource}"

# What each view must be, by uid; written here by hand so that the lint checks the generator
# (dashboards/grafana/generate.py) rather than repeating it.
#   panel_count  panels, rows not counted
#   rows         row titles in order
#   thresholds   panel title -> {field ("defaults" or a target refId): (threshold key, direction
#                of the alert)}. ">" alerts fire above: base green, red from the threshold. "<"
#                alerts fire below: base red, green from the threshold. Other panels carry only
#                their base colour.
#   scope        label -> the matcher every selector of a family with that label must carry
#   role_all     what the role variable's All means
VIEWS = {
    "wsm-websocket-overview": {  # the operator view
        "panel_count": 13,  # issue 8's ten panels, issue 18's two fleet panels, issue 20's anomaly band
        "rows": ["Fleet"],  # issue 18's fleet row
        "thresholds": {
            "Active connections by role": {"defaults": ("no_connections", "<")},
            "Latency P50 / P95 / P99": {"defaults": ("latency_seconds", ">")},
            "Worst host P95 latency": {"defaults": ("latency_seconds", ">")},
            "Compression ratio": {"defaults": ("compression_ratio_percent", "<")},
            "Buffer utilisation": {"defaults": ("buffer_utilization_percent", ">")},
            "Heartbeat success rate and health score": {"B": ("health_score", "<")},
            "CPU and memory": {"defaults": ("cpu_percent", ">"), "B": ("memory_bytes", ">")},
            "Error rates": {"defaults": ("disconnections_per_second", ">"), "D": ("failure_ratio", ">")},
        },
        "scope": {},
        "role_all": ".*",
    },
    "wsm-websocket-clinical": {  # issue 20, item 4: ECG, vitals and alerts to doctors and nurses
        "panel_count": 8,
        "rows": [],
        "thresholds": {
            "Delivery latency P50 / P95 / P99": {"defaults": ("latency_seconds", ">")},
            "P95 latency by stage": {"defaults": ("latency_seconds", ">")},
            "Failed deliveries to doctors and nurses": {"B": ("failure_ratio", ">")},
            "Doctors and nurses connected": {"defaults": ("no_connections", "<")},
            "Disconnections of doctors and nurses": {"defaults": ("disconnections_per_second", ">")},
            "Heartbeat success and worst health score": {"B": ("health_score", "<")},
        },
        "scope": {"role": 'role=~"doctor|nurse"', "message_type": 'message_type=~"ecg_data|vitals|alert"'},
        "role_all": "doctor|nurse",
    },
}

AGGREGATIONS = ("sum", "min", "max", "avg", "count", "topk", "bottomk", "quantile", "stddev", "group")
SELECTOR = re.compile(r"\b([a-zA-Z_][a-zA-Z0-9_]*:[a-zA-Z0-9_:]*|websocket_[a-zA-Z0-9_]*|wsm_[a-zA-Z0-9_]*)\s*(\{[^}]*\})?")
MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
LEGEND = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")


def recording_rules(rules_text):
    """record name -> its output labels (the first `by (...)` of its expr, without le) + job/instance."""
    out = {}
    for name, expr in re.findall(r"- record: (\S+)\n\s+expr: (.+)", rules_text):
        m = GROUPING.search(expr)
        labels = {l.strip() for l in m.group(1).split(",")} if m else set()
        out[name] = (labels - {"le"}) | {"job", "instance"}
    return out


def check_names(where, expr, records, errors):
    """Metric and label names against the catalogue and the recording rules; returns the result's
    labels (best effort: the top-level grouping, or the single selector's labels)."""
    series = exposed_series()
    known_labels = set(COMMON_LABELS)
    for name, matchers in SELECTOR.findall(expr):
        if name in records:
            labels = records[name]
        elif name in series:
            labels = series[name][1] | COMMON_LABELS
        else:
            errors.append("%s: unknown metric %s" % (where, name))
            continue
        known_labels |= labels
        family = series[name][0] if name in series else None
        for label, value in MATCHER.findall(matchers):
            if label not in labels:
                errors.append("%s: %s has no label %s" % (where, name, label))
            allowed = allowed_values(family, label)
            if allowed is None or "$" in value:
                continue
            for v in value.split("|"):
                if v not in allowed:
                    errors.append("%s: %s{%s} has no value %r (catalogue: %s)" % (where, name, label, v, allowed))
    for group in GROUPING.findall(expr):
        for label in (l.strip() for l in group.split(",")):
            if label and label not in known_labels:
                errors.append("%s: grouping by %s, which none of its metrics has" % (where, label))
    stripped = expr.strip()
    m = GROUPING.search(stripped)
    if m and (stripped.startswith("histogram_quantile(") or stripped.startswith(AGGREGATIONS)):
        return {l.strip() for l in m.group(1).split(",")} - {"le", ""}
    return known_labels


def substitute(expr):
    """Grafana variables -> values PromQL accepts (the notes' recipe)."""
    expr = expr.replace("$__rate_interval", "1m").replace("$__interval", "1m").replace("$__range", "1h")
    return re.sub(r"\$\{?[a-zA-Z_][a-zA-Z0-9_]*\}?", ".*", expr)


def lint_layout(panels, errors):
    ids = [p.get("id") for p in panels]
    if len(ids) != len(set(ids)) or None in ids:
        errors.append("panel ids are not unique: %s" % ids)
    rects = []
    for p in panels:
        g = p.get("gridPos", {})
        x, y, w, h = (g.get(k) for k in "xywh")
        if None in (x, y, w, h) or w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > 24:
            errors.append("panel %s: bad gridPos %s" % (p.get("id"), g))
            continue
        for (oid, ox, oy, ow, oh) in rects:
            if x < ox + ow and ox < x + w and y < oy + oh and oy < y + h:
                errors.append("panels %s and %s overlap" % (oid, p["id"]))
        rects.append((p["id"], x, y, w, h))


def lint_thresholds(panel, view, thresholds, errors):
    where = "panel %r" % panel["title"]
    fields = {"defaults": panel["fieldConfig"]["defaults"].get("thresholds")}
    for o in panel["fieldConfig"].get("overrides", []):
        if o.get("matcher", {}).get("id") == "byFrameRefID":
            for prop in o.get("properties", []):
                if prop.get("id") == "thresholds":
                    fields[o["matcher"]["options"]] = prop["value"]
    expected = view["thresholds"].get(panel["title"], {})
    for field, spec in fields.items():
        steps = (spec or {}).get("steps", [])
        if not steps or steps[0].get("value") is not None:
            errors.append("%s %s: thresholds need a base step (value null)" % (where, field))
            continue
        if field not in expected:
            if len(steps) != 1:
                errors.append("%s %s: threshold steps %s match no alert" % (where, field, steps[1:]))
            continue
        key, direction = expected[field]
        want = thresholds[key]
        colours = ("green", "red") if direction == ">" else ("red", "green")
        got = [(s.get("color"), s.get("value")) for s in steps]
        if got != [(colours[0], None), (colours[1], want)]:
            errors.append("%s %s: thresholds %s, expected %s at %s (alert %s %s)" %
                          (where, field, got, colours, want, direction, key))
    for field in expected:
        if field not in fields:
            errors.append("%s: no thresholds for %s" % (where, field))


def lint_scope(where, expr, view, errors):
    """Every selector of a family with a scoped label carries the view's matcher for it."""
    series = exposed_series()
    for name, matchers in SELECTOR.findall(expr):
        labels = series[name][1] if name in series else set()
        for label, matcher in view["scope"].items():
            if label in labels and matcher not in matchers:
                errors.append("%s: %s is not limited to the view's %s" % (where, name, matcher))


def lint_dashboard(dash, records, thresholds, errors):
    """Returns {record name: substituted expr} for the promtool parse check."""
    exprs = {}
    view = VIEWS.get(dash.get("uid"))
    if view is None:
        errors.append("uid %r is none of the views %s" % (dash.get("uid"), sorted(VIEWS)))
        return exprs
    if dash.get("schemaVersion", 0) < 39:
        errors.append("schemaVersion %s < 39" % dash.get("schemaVersion"))
    variables = {v["name"]: v for v in dash.get("templating", {}).get("list", [])}
    ds = variables.get("datasource", {})
    if ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        errors.append("no datasource variable of type prometheus")
    for name in ("job", "instance", "role"):
        v = variables.get(name)
        if not v or v.get("type") != "query":
            errors.append("no query variable %s" % name)
            continue
        if v.get("datasource", {}).get("uid") != DS_UID:
            errors.append("variable %s does not use %s" % (name, DS_UID))
        q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
        m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", q)
        if not m or m.group(2) != name:
            errors.append("variable %s: query %r is not label_values(..., %s)" % (name, q, name))
            continue
        check_names("variable " + name, m.group(1), records, errors)
        if name == "role":
            lint_scope("variable role", m.group(1), view, errors)
            if v.get("allValue") != view["role_all"]:
                errors.append("variable role: All is %r, expected %r" % (v.get("allValue"), view["role_all"]))
        exprs["dashboard_variable_" + name] = substitute(m.group(1))

    lint_layout(dash.get("panels", []), errors)
    rows = [p for p in dash.get("panels", []) if p.get("type") == "row"]
    if [r.get("title") for r in rows] != view["rows"]:
        errors.append("rows %s, expected %s" % ([r.get("title") for r in rows], view["rows"]))
    for r in rows:
        if r.get("collapsed") or r.get("panels") or r["gridPos"].get("w") != 24:
            errors.append("row %r: should be open (panels at top level) and span 24 columns" % r.get("title"))
    panels = [p for p in dash.get("panels", []) if p.get("type") != "row"]
    if len(panels) != view["panel_count"]:
        errors.append("%d panels, the issues ask for %d" % (len(panels), view["panel_count"]))
    for p in panels:
        where = "panel %s %r" % (p.get("id"), p.get("title"))
        if not p.get("description", "").strip():
            errors.append("%s: no description" % where)
        if not p.get("fieldConfig", {}).get("defaults", {}).get("unit"):
            errors.append("%s: no unit" % where)
        if p.get("datasource", {}).get("uid") != DS_UID:
            errors.append("%s: panel datasource is not %s" % (where, DS_UID))
        targets = p.get("targets", [])
        if not targets:
            errors.append("%s: no targets" % where)
        refs = [t.get("refId") for t in targets]
        if len(refs) != len(set(refs)):
            errors.append("%s: duplicate refIds %s" % (where, refs))
        for t in targets:
            tw = "%s target %s" % (where, t.get("refId"))
            expr = t.get("expr", "")
            if t.get("datasource", {}).get("uid") != DS_UID:
                errors.append("%s: datasource is not %s" % (tw, DS_UID))
            for name, matchers in SELECTOR.findall(expr):
                if 'job=~"$job"' not in matchers or 'instance=~"$instance"' not in matchers:
                    errors.append("%s: %s is not filtered by $job and $instance" % (tw, name))
            for q in re.finditer(r"histogram_quantile\(", expr):
                if not re.match(r"\s*[0-9.]+\s*,\s*sum by \(le\b", expr[q.end():]):
                    errors.append("%s: histogram_quantile without sum by (le ...)" % tw)
            for rng in re.findall(r"\[([^\]]*)\]", expr):
                if rng != "$__rate_interval":
                    errors.append("%s: range [%s] is not [$__rate_interval]" % (tw, rng))
            result = check_names(tw, expr, records, errors)
            lint_scope(tw, expr, view, errors)
            for label in LEGEND.findall(t.get("legendFormat", "")):
                if label not in result:
                    errors.append("%s: legend uses {{%s}}, which the result does not have" % (tw, label))
            exprs["dashboard_panel_%s_%s" % (p.get("id"), t.get("refId"))] = substitute(expr)
        lint_thresholds(p, view, thresholds, errors)
    return exprs


def promtool_parses(exprs, errors):
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        f.write("groups:\n  - name: dashboard-expressions\n    rules:\n")
        for name, expr in exprs.items():
            f.write("      - record: %s\n        expr: %s\n" % (name, json.dumps(expr)))
        path = f.name
    try:
        r = subprocess.run(["promtool", "check", "rules", path], capture_output=True, text=True)
        if r.returncode != 0:
            errors.append("promtool check rules on the dashboard's expressions:\n" + r.stdout + r.stderr)
    finally:
        os.unlink(path)


def main():
    dashboard_path, rules_path, wsm_alerts = sys.argv[1:4]
    with open(dashboard_path) as f:
        dash = json.load(f)
    rules_text = ""
    for path in [rules_path] + sys.argv[4:]:
        with open(path) as f:
            rules_text += f.read() + "\n"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEBSOCKET_")}
    thresholds = json.loads(subprocess.run([wsm_alerts, "thresholds"], env=env, check=True,
                                           capture_output=True, text=True).stdout)
    thresholds["no_connections"] = 1  # NoConnections fires at 0: red below one connection
    records = recording_rules(rules_text)
    errors = []
    if not records:
        errors.append("no recording rules found in %s" % rules_path)
    for i, expr in enumerate(re.findall(r"^\s+expr: (.+)$", rules_text, re.M)):
        check_names("rules expr %d" % (i + 1), expr, records, errors)
    exprs = lint_dashboard(dash, records, thresholds, errors)
    promtool_parses(exprs, errors)
    for e in errors:
        print(e)
    print("%d panels, %d expressions, %d problems" % (len(dash.get("panels", [])), len(exprs), len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
