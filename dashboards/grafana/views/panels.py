"""Grafana JSON (schemaVersion 39) for the views: dashboard, variables, rows and time series
panels, in the shape the dashboard lint (tests/dashboards/lint_dashboard.py) expects: the
datasource variable everywhere, a unit and a description on every panel, threshold lines equal to
the alerts' thresholds. Panels flow left to right in a 24-column grid."""

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
GRID_COLUMNS = 24
PANEL_HEIGHT = 8

# Threshold lines: (catalogue threshold key, direction of its alert). ">" alerts fire above (green,
# red from the threshold), "<" below (red, green from it). NoConnections fires at 0 connections,
# so its line is at one connection.
FIXED_THRESHOLDS = {"no_connections": 1}


def threshold_steps(thresholds, spec):
    if spec is None:
        return {"mode": "absolute", "steps": [{"color": "green", "value": None}]}
    key, direction = spec
    value = FIXED_THRESHOLDS[key] if key in FIXED_THRESHOLDS else thresholds[key]
    below, above = ("green", "red") if direction == ">" else ("red", "green")
    return {"mode": "absolute", "steps": [{"color": below, "value": None}, {"color": above, "value": value}]}


def target(ref, t):
    query = {"refId": ref, "datasource": DATASOURCE, "expr": t.expr}
    if t.exemplar:
        query["exemplar"] = True  # Grafana asks Prometheus for exemplars: trace ids on the panel
    return query | {"legendFormat": t.legend, "range": True, "editorMode": "code"}


# Line styles of a reference drawn next to the value it frames (a band's edges, a mean).
LINE_STYLES = {"dash": {"fill": "dash", "dash": [10, 10]}, "dot": {"fill": "dot"}}


class Target:
    """One query of a panel; `unit`, `axis` and `threshold` give it its own field config (an
    override by refId), e.g. a ratio on the right axis next to rates; `line` ("dash", "dot") draws
    it as an unfilled reference line, so a band around a value does not hide the value; `exemplar`
    shows the exemplars (trace ids) of the histogram it reads beside the line."""

    def __init__(self, expr, legend, unit=None, axis="auto", threshold=None, line=None, exemplar=False):
        self.expr, self.legend, self.unit, self.axis, self.threshold = expr, legend, unit, axis, threshold
        self.line, self.exemplar = line, exemplar


def override(ref, t, thresholds):
    properties = []
    if t.unit:
        properties += [{"id": "unit", "value": t.unit},
                       {"id": "thresholds", "value": threshold_steps(thresholds, t.threshold)},
                       {"id": "custom.axisPlacement", "value": t.axis},
                       {"id": "custom.thresholdsStyle", "value": {"mode": "line"}}]
    if t.line:
        properties += [{"id": "custom.lineStyle", "value": LINE_STYLES[t.line]},
                       {"id": "custom.fillOpacity", "value": 0}]
    return {"matcher": {"id": "byFrameRefID", "options": ref}, "properties": properties}


def timeseries(panel_id, title, description, unit, targets, thresholds, grid, threshold=None, max_value=None):
    """A time series panel; `threshold` is the (key, direction) of the line on its default field."""
    defaults = {"unit": unit, "color": {"mode": "palette-classic"},
                "custom": {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never",
                           "spanNulls": False, "axisPlacement": "auto",
                           "thresholdsStyle": {"mode": "line" if threshold else "off"}},
                "thresholds": threshold_steps(thresholds, threshold), "min": 0}
    if max_value is not None:
        defaults["max"] = max_value
    refs = [chr(ord("A") + i) for i in range(len(targets))]
    return {"id": panel_id, "type": "timeseries", "title": title, "description": description,
            "datasource": DATASOURCE, "gridPos": grid,
            "fieldConfig": {"defaults": defaults,
                            "overrides": [override(r, t, thresholds) for r, t in zip(refs, targets)
                                          if t.unit or t.line]},
            "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                        "tooltip": {"mode": "multi", "sort": "desc"}},
            "targets": [target(r, t) for r, t in zip(refs, targets)]}


def row(panel_id, title, grid):
    return {"id": panel_id, "type": "row", "title": title, "collapsed": False, "gridPos": grid,
            "panels": []}


class Layout:
    """Places panels left to right, a new line when the next one does not fit."""

    def __init__(self):
        self.x = self.y = self.line_height = 0

    def place(self, width, height=PANEL_HEIGHT):
        if self.x + width > GRID_COLUMNS:
            self.x, self.y, self.line_height = 0, self.y + self.line_height, 0
        grid = {"x": self.x, "y": self.y, "w": width, "h": height}
        self.x += width
        self.line_height = max(self.line_height, height)
        return grid

    def full_line(self, height):
        if self.x:
            self.x, self.y, self.line_height = 0, self.y + self.line_height, 0
        return self.place(GRID_COLUMNS, height)


def query_variable(name, label, query, all_value=".*"):
    return {"name": name, "label": label, "type": "query", "datasource": DATASOURCE,
            "query": {"qryType": 1, "query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
            "includeAll": True, "multi": True, "allValue": all_value,
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
            "refresh": 2, "sort": 1, "regex": "", "hide": 0, "options": [], "skipUrlSync": False}


def variables(catalogue, roles="$role", role_all=".*"):
    """datasource, job, instance (the host) and role; `roles` limits the role variable's choices
    (and `role_all` what All means) for a view about some roles only."""
    role_matchers = {} if roles == "$role" else {"role": roles}
    role_source = catalogue.select("websocket_connections_active", **role_matchers)
    return [{"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
             "hide": 0, "includeAll": False, "multi": False, "options": [], "refresh": 1, "regex": "",
             "skipUrlSync": False},
            query_variable("job", "Job", "label_values(websocket_connections_active, job)"),
            query_variable("instance", "Instance", 'label_values(websocket_connections_active{job=~"$job"}, instance)'),
            query_variable("role", "Role", "label_values(%s, role)" % role_source, role_all)]


def dashboard(uid, title, description, panels, templating):
    return {"uid": uid, "title": title, "description": description, "tags": ["websocket", "wsmetrics"],
            "editable": True, "graphTooltip": 1, "liveNow": False, "fiscalYearStartMonth": 0,
            "schemaVersion": 39, "version": 1, "id": None, "timezone": "", "weekStart": "",
            "refresh": "30s", "time": {"from": "now-1h", "to": "now"}, "timepicker": {}, "links": [],
            "annotations": {"list": [{"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                                      "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
                                      "name": "Annotations & Alerts", "type": "dashboard"}]},
            "templating": {"list": templating}, "panels": panels}
