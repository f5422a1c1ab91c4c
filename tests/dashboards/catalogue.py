"""The metric families as the exporter exposes them (name -> type, label names, each label's
allowed values), read from dashboards/catalogue.json: the rendering of the C++ catalogue by
`wsm-alerts catalogue`, which dashboards.generated keeps equal to the C++ source. The lints check
every metric, label and label value a dashboard query or a rule uses against it."""
import json
import os

CATALOGUE_JSON = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "dashboards", "catalogue.json")

with open(CATALOGUE_JSON) as _f:
    _FAMILIES = json.load(_f)["families"]

# family -> (type, {label names})
CATALOGUE = {name: (f["type"], set(f["labels"])) for name, f in _FAMILIES.items()}
# family -> {label: [allowed values] or None (free-form)}
LABEL_VALUES = {name: f["labels"] for name, f in _FAMILIES.items()}

# The exporter's per-process detail from /proc (exporter/README.md), which the CPU alert and panel
# read: the catalogue's websocket_cpu_usage_percent sums a role's processes.
EXPORTER_GAUGES = {
    "wsm_writer_cpu_percent": {"pid", "role"},
    "wsm_writer_memory_bytes": {"memory_type", "pid", "role"},
}

# Labels any series may carry: target labels added by Prometheus, `le` of histogram buckets, the
# exporter's `worker` (per_writer gauges) and overflow marker.
COMMON_LABELS = {"job", "instance", "le", "worker", "wsm_overflow"}


def exposed_series():
    """Every series name the exporter can expose -> (family, label names)."""
    names = {}
    for family, (kind, labels) in CATALOGUE.items():
        if kind == "histogram":
            names[family + "_bucket"] = (family, labels | {"le"})
            names[family + "_sum"] = (family, labels)
            names[family + "_count"] = (family, labels)
        else:
            names[family] = (family, labels)
    for family, labels in EXPORTER_GAUGES.items():
        names[family] = (family, labels)
    return names


def allowed_values(family, label):
    """The values a label of a catalogue family takes; None when any (or not a catalogue label)."""
    return LABEL_VALUES.get(family, {}).get(label)
