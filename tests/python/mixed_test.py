"""(b) A C++ writer (wsm-py-cpp-writer, <wsm/writer.hpp>) and Python writers record the same series
(same names, labels given in another order, same units) into one segment: each series is one
series in the dump, with the exact sum of both sides' counts, histogram sums and buckets."""

import subprocess

import support
import wsmetrics

N = 5000


def python_side(reg):
    # Labels in another order than the C++ side: the canonical label set is the same series.
    sent = reg.counter("pymixed_messages_sent_total", {"region": "eu", "role": "doctor"})
    latency = reg.histogram("pymixed_latency_seconds", {"message_type": "ecg_data"})
    size = reg.histogram("pymixed_size_bytes", {"direction": "out"})
    for i in range(N):
        sent.inc()
        latency.record(0.25 if i % 2 else 0.125)  # float seconds, as the C++ side's milliseconds
        size.record(100 + i % 7)


def main():
    with support.Segment("mixed") as seg:
        run = lambda: subprocess.run([support.bin_path("wsm-py-cpp-writer"), seg, str(N)], check=True)
        run()  # C++ first: creates the segment and registers every family
        reg = wsmetrics.Registry.open(seg)
        python_side(reg)
        run()  # and C++ again after Python
        d = support.dump(seg)
        names = sorted(k[0] for k in d)
        assert names == ["pymixed_latency_seconds", "pymixed_messages_sent_total", "pymixed_size_bytes"], names

        sent = d[support.key("pymixed_messages_sent_total", role="doctor", region="eu")]
        assert sent["value"] == 3 * N, sent
        lat = d[support.key("pymixed_latency_seconds", message_type="ecg_data")]
        assert lat["count"] == 3 * N, lat
        assert lat["sum"] == 3 * (N // 2) * (0.25 + 0.125), lat["sum"]
        finite = [b for b in lat["buckets"] if b[0] != "+Inf"]
        # Cumulative buckets: below 0.25 s exactly one bound, holding the 0.125 s records of all three runs.
        assert [b[1] for b in finite if b[0] < 0.25] == [3 * N // 2], lat["buckets"]
        assert lat["buckets"][-1] == ["+Inf", 3 * N]
        size = d[support.key("pymixed_size_bytes", direction="out")]
        assert size["count"] == 3 * N, size
        assert size["sum"] == 3 * sum(100 + i % 7 for i in range(N)), size
        print("ok: C++ and Python writers merged exactly")


if __name__ == "__main__":
    main()
