"""The Grafana views of wsmetrics, generated from the metric catalogue (dashboards/catalogue.json,
rendered by `wsm-alerts catalogue` from the C++ catalogue) by dashboards/grafana/generate.py."""
