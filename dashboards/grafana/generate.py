#!/usr/bin/env python3
"""Writes the Grafana views of wsmetrics from the metric catalogue: the operator view
(websocket-overview.json) and the clinical view (websocket-clinical.json). The catalogue is
dashboards/catalogue.json, the output of `wsm-alerts catalogue` (the C++ catalogue and the alert
thresholds); each view is described in views/ (operator_view.py, clinical_view.py). A family, label or value the catalogue lacks stops
generation. With --check, writes nothing and exits 1 if a committed file differs from what it
would write (tests: dashboards.generated), so the views are never edited by hand.

usage: generate.py [--catalogue CATALOGUE_JSON] [--out DIR] [--check]
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # the source tree stays free of __pycache__
from views import clinical_view, operator_view  # noqa: E402
from views.catalogue import Catalogue  # noqa: E402

VIEWS = (operator_view, clinical_view)


def render(view, catalogue):
    return json.dumps(view.build(catalogue), indent=2) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--catalogue", default=os.path.join(HERE, "..", "catalogue.json"))
    ap.add_argument("--out", default=HERE, help="where the dashboards are (default: this folder)")
    ap.add_argument("--check", action="store_true", help="compare with the files in --out, write nothing")
    args = ap.parse_args()
    try:
        catalogue = Catalogue(args.catalogue)
        texts = {view.FILE: render(view, catalogue) for view in VIEWS}
    except KeyError as e:
        print("generate.py: %s" % e.args[0], file=sys.stderr)
        return 1
    stale = []
    for name, text in texts.items():
        path = os.path.join(args.out, name)
        if args.check:
            try:
                with open(path) as f:
                    same = f.read() == text
            except FileNotFoundError:
                same = False
            if not same:
                stale.append(path)
        else:
            with open(path, "w") as f:
                f.write(text)
    for path in stale:
        print("%s is not what generate.py writes: regenerate it (dashboards/README.md), do not edit it" % path)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
