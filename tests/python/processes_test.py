"""(a) Four Python processes, three forked after the module was imported and the handles made, one
spawned, record into one fresh segment; `wsm dump --json` shows exact totals: counters and
histograms while the workers live and after they exited, gauges (per process, summed) while they
live. The parent records before forking, so a child that wrote into its parent's inherited cells
(the classic fork bug) would show up as a wrong total."""

import multiprocessing as mp
import os
import sys

import support
import wsmetrics

N = 10_000  # counter incs per worker
H = 500  # histogram records per worker
PARENT_INCS = 7

# Made at import, before any fork: the forked children use these very handles.
SEGMENT = os.environ.setdefault("WSM_SEGMENT", support.unique_segment("processes"))
REG = wsmetrics.Registry.open()
SENT = REG.counter("pytest_messages_sent_total", {"role": "doctor"}, "messages sent")
LATENCY = REG.histogram("pytest_message_latency_seconds", {"message_type": "ecg_data"})
SIZE = REG.histogram("pytest_message_size_bytes", {"direction": "out"})
ACTIVE = REG.gauge("pytest_connections_active", {"role": "doctor"})


def work(worker, ready, done):
    for _ in range(N):
        SENT.inc()
    REG.counter("pytest_worker_events_total", {"worker": worker}).inc(worker + 1)
    for i in range(H):
        LATENCY.record(0.25 if i % 2 else 0.5)  # exact in binary and in ns
        SIZE.record(1024 + i)
    ACTIVE.add(3)
    ready.put(os.getpid())
    done.wait(60)  # keep the gauges alive until the parent has read them


def spawned(worker, ready, done):
    # A fresh interpreter: imports wsmetrics and opens the segment itself (WSM_SEGMENT inherited).
    global REG, SENT, LATENCY, SIZE, ACTIVE
    REG = wsmetrics.Registry.open()
    SENT = REG.counter("pytest_messages_sent_total", {"role": "doctor"})
    LATENCY = REG.histogram("pytest_message_latency_seconds", {"message_type": "ecg_data"})
    SIZE = REG.histogram("pytest_message_size_bytes", {"direction": "out"})
    ACTIVE = REG.gauge("pytest_connections_active", {"role": "doctor"})
    work(worker, ready, done)


def main():
    try:
        SENT.inc(PARENT_INCS)  # the parent's own cells, inherited by every forked child
        fork, spawn = mp.get_context("fork"), mp.get_context("spawn")
        ready, done = fork.Queue(), fork.Event()
        sready, sdone = spawn.Queue(), spawn.Event()
        procs = [fork.Process(target=work, args=(w, ready, done)) for w in range(3)]
        procs.append(spawn.Process(target=spawned, args=(3, sready, sdone)))
        for p in procs:
            p.start()
        pids = {ready.get(timeout=60) for _ in range(3)} | {sready.get(timeout=60)}
        assert len(pids) == 4, pids

        def check(live):
            d = support.dump(SEGMENT)
            sent = d[support.key("pytest_messages_sent_total", role="doctor")]
            assert sent["value"] == 4 * N + PARENT_INCS, "sent: %s, want %d" % (sent["value"], 4 * N + PARENT_INCS)
            for w in range(4):
                ev = d[support.key("pytest_worker_events_total", worker=str(w))]
                assert ev["value"] == w + 1, (w, ev)
            lat = d[support.key("pytest_message_latency_seconds", message_type="ecg_data")]
            assert lat["count"] == 4 * H, lat
            assert lat["sum"] == 4 * (H // 2) * (0.25 + 0.5), lat["sum"]
            assert lat["buckets"][-1] == ["+Inf", 4 * H]
            # seconds: the bucket holding 0.25 has a bound near 0.25 (not 2.5e8 ns)
            assert any(0.25 <= b[0] <= 0.25 * 1.125 and b[1] == 2 * H for b in lat["buckets"][:-1]), lat["buckets"]
            size = d[support.key("pytest_message_size_bytes", direction="out")]
            assert size["count"] == 4 * H and size["sum"] == 4 * sum(1024 + i for i in range(H)), size
            active = d[support.key("pytest_connections_active", role="doctor")]
            want = 12.0 if live else 0.0  # per-process gauges: summed while live, dropped at exit
            assert active["value"] == want, "active: %s, want %s" % (active["value"], want)

        check(live=True)
        done.set()
        sdone.set()
        for p in procs:
            p.join(60)
            assert p.exitcode == 0, "worker exited %s" % p.exitcode
        check(live=False)
        # The parent recorded before and still records after the forks, into its own cells.
        SENT.inc()
        assert support.dump(SEGMENT)[support.key("pytest_messages_sent_total", role="doctor")]["value"] == 4 * N + PARENT_INCS + 1
        print("ok: 4 processes (3 forked, 1 spawned): exact totals")
    finally:
        support.remove_segment(SEGMENT)


if __name__ == "__main__":
    main()
