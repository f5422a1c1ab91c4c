"""The metric catalogue as the views read it: every selector a panel writes goes through
Catalogue.select, which refuses a family, label or label value the C++ catalogue does not have, so
a rename breaks generation instead of leaving a panel empty."""
import json

# Labels every scraped series may carry: Prometheus target labels (the views filter on them).
TARGET_LABELS = ("job", "instance")

# The exporter's per-process gauges from /proc (exporter/README.md), which are not catalogue
# families: the CPU panel reads the busiest process, the catalogue's gauge sums a role's processes.
EXPORTER_GAUGES = {
    "wsm_writer_cpu_percent": {"pid": None, "role": None},
    "wsm_writer_memory_bytes": {"memory_type": None, "pid": None, "role": None},
}


def is_variable(value):
    return value.startswith("$")


class Catalogue:
    def __init__(self, path):
        with open(path) as f:
            data = json.load(f)
        self.families = data["families"]
        self.thresholds = {k: int(v) if float(v).is_integer() else v for k, v in data["thresholds"].items()}

    def labels(self, name):
        """A series name's labels -> allowed values (None: any); KeyError for an unknown name.
        Recording rules (names with ':') are checked by the dashboard lint against the rules file."""
        if ":" in name:
            return None
        if name in EXPORTER_GAUGES:
            return EXPORTER_GAUGES[name]
        for suffix in ("_bucket", "_sum", "_count"):
            family = name[:-len(suffix)]
            if name.endswith(suffix) and self.families.get(family, {}).get("type") == "histogram":
                return self.families[family]["labels"]
        if name not in self.families or self.families[name]["type"] == "histogram":
            raise KeyError("%s is not a series of the catalogue" % name)
        return self.families[name]["labels"]

    @staticmethod
    def values(name, labels, label, wanted):
        """`wanted` values of a label, each checked against the catalogue's enum: "a|b" for =~."""
        allowed = labels[label] if labels is not None else None
        for v in wanted:
            if allowed is not None and v not in allowed:
                raise KeyError("%s{%s} has no value %r (catalogue: %s)" % (name, label, v, allowed))
        return "|".join(wanted)

    def select(self, name, *also, **matchers):
        """name{job=~"$job",instance=~"$instance",...}: a $variable or a list of values is a regex
        match, a single value an equality; all in the order given, then the (label, value) pairs of
        `also` (a second matcher on a label: a fixed set narrowed by a variable)."""
        labels = self.labels(name)
        parts = ['%s=~"$%s"' % (t, t) for t in TARGET_LABELS]
        for label, value in list(matchers.items()) + list(also):
            if labels is not None and label not in labels:
                raise KeyError("%s has no label %s" % (name, label))
            if isinstance(value, str) and is_variable(value):
                parts.append('%s=~"%s"' % (label, value))
            elif isinstance(value, str):
                parts.append('%s="%s"' % (label, self.values(name, labels, label, [value])))
            else:
                parts.append('%s=~"%s"' % (label, self.values(name, labels, label, value)))
        return "%s{%s}" % (name, ",".join(parts))
