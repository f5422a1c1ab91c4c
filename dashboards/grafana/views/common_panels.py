"""Panels both views show, each over the selectors its view makes (`select`: family -> selector)."""
from .panels import Target, timeseries
from .promql import by


def heartbeat_and_health(panel_id, title, description, c, select, grid):
    """Heartbeat success per role and the worst connection's health score, the latter with the
    LowHealthScore line (unitless, on its own field); `select` makes a family's selector."""
    return timeseries(panel_id, title, description, "percent",
                      [Target(by("min", ["role"], select("websocket_heartbeat_success_rate_percent")),
                              "heartbeat {{role}}"),
                       Target(by("min", ["role"], select("websocket_health_score")), "worst health {{role}}",
                              unit="none", threshold=("health_score", "<"))],
                      c.thresholds, grid, max_value=100)
