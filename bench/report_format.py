"""How bench/report.py and bench/report_python.py write figures and verdicts, so every table of
BENCHMARKS.md says them alike."""


def fmt_ns(v):
    if v is None:
        return "-"
    if v >= 1e6:
        return f"{v / 1e6:.2f} ms"
    if v >= 1e3:
        return f"{v / 1e3:.2f} µs"
    return f"{v:.2f} ns"


def ratio(a, b):
    return a / b if a and b else None


def fmt_x(v):
    if v is None:
        return "-"
    return f"{v:.2f}x" if v >= 0.1 else f"{v:.2g}x"


def at_most(value, goal):
    """Whether a goal "value <= goal" is met; None when the value was not measured."""
    return None if value is None else value <= goal


def verdict(ok):
    """MET, MISSED or "not measured" (ok None): how every goal in the report is named."""
    return "not measured" if ok is None else ("MET" if ok else "MISSED")


def shown(v):
    """A verdict as the tables show it: MISSED in bold."""
    return "**MISSED**" if v == "MISSED" else v
