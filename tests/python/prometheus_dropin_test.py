"""(d) The drop-in: dropin_app.py, written against prometheus_client, run once as it is (its
registry's generate_latest) and once with only its import line changed to wsmetrics.prometheus
(served by wsm-exporter from the segment). Same sample names and label sets (le aside, _created
left out: wsmetrics has none), equal counter and gauge values, equal histogram _count and _sum."""

import os
import sys
import types

import support

try:
    import prometheus_client
    from prometheus_client import generate_latest
except ImportError:
    print("skipped: prometheus_client is not importable by %s (python3-prometheus-client)" % sys.executable)
    sys.exit(77)

APP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dropin_app.py")
IMPORT = "from prometheus_client import Counter, Gauge, Histogram"


def load_app(source, name):
    module = types.ModuleType(name)
    exec(compile(source, APP, "exec"), module.__dict__)
    return module


def app_samples(text):
    """{(name, labels without le): value} of the app's series, and {family: type}."""
    samples, types_ = support.parse_text(text)
    out = {}
    for (name, labels), value in samples.items():
        if not name.startswith("app_") or name.endswith("_created") or name.endswith("_bucket"):
            continue
        out[(name, labels)] = value
    return out, {f: t for f, t in types_.items() if f.startswith("app_") and not f.endswith("_created")}


def bucket_label_sets(text):
    samples, _ = support.parse_text(text)
    return {(n, frozenset(l for l in labels if l[0] != "le")) for (n, labels) in samples
            if n.startswith("app_") and n.endswith("_bucket")}


def main():
    source = open(APP).read()
    assert source.count(IMPORT) == 1
    reference = load_app(source, "reference_app")
    reference.run()
    expected_text = generate_latest(prometheus_client.REGISTRY).decode()

    with support.Segment("dropin") as seg:
        os.environ["WSM_SEGMENT"] = seg  # the drop-in's segment: WSM_SEGMENT, as the exporter's
        dropin = load_app(source.replace(IMPORT, "from wsmetrics.prometheus import Counter, Gauge, Histogram"),
                          "dropin_app")
        assert dropin.REQUESTS.__class__.__module__ == "wsmetrics.prometheus"
        dropin.run()
        want, want_types = app_samples(expected_text)
        timed = {k for k in want if k[0] == "app_timed_seconds_sum"}  # wall-clock: compared as > 0
        with support.Exporter(seg) as exporter:
            def check():
                text = exporter.metrics_text()
                got, got_types = app_samples(text)
                assert set(got) == set(want), "names/label sets differ:\n only prometheus_client: %s\n only wsmetrics: %s" % (
                    sorted(set(want) - set(got)), sorted(set(got) - set(want)))
                for k, v in want.items():
                    if k in timed:
                        assert got[k] > 0, (k, got[k])
                    else:
                        assert got[k] == v, "%s: wsmetrics %r, prometheus_client %r" % (k, got[k], v)
                assert got_types == want_types, (got_types, want_types)
                assert bucket_label_sets(text) == bucket_label_sets(expected_text)
            support.wait_for(check)
        print("ok: the drop-in exposes what prometheus_client does (%d samples)" % len(want))


if __name__ == "__main__":
    main()
