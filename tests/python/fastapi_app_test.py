"""examples/python/app.py under `uvicorn --workers 4` (issue 19 item 4): python3-websockets clients
with known message counts, and a real wsm-exporter on the same segment whose /metrics then shows
exactly the clients' connections, messages received and sent (acks) and disconnections. uvicorn
runs in a process group of its own and is stopped by it; the segment is removed at the end.
Exit 77 (skipped) when fastapi, uvicorn or websockets cannot be imported."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time

import support

try:
    import fastapi  # noqa: F401 (the app's; imported here only to skip cleanly without it)
    import uvicorn  # noqa: F401
    import websockets
except ImportError as e:
    print(f"SKIP: {e} (apt-get install python3-fastapi python3-uvicorn python3-websockets; scripts/setup does)")
    sys.exit(77)

APP_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "python")
# (role, messages) per client; every other message has a type the catalogue does not know.
CLIENTS = [("doctor", 7), ("nurse", 3), ("patient_monitor", 12), ("admin", 1), ("doctor", 5), ("nurse", 9)]


async def client(port, role, n):
    uri = f"ws://127.0.0.1:{port}/ws?role={role}&user_id=u-{role}&patient_id=p1"
    async with websockets.connect(uri) as ws:
        for i in range(n):
            await ws.send(json.dumps({"type": "vitals" if i % 2 else "no-such-type", "priority": "high"}))
            assert json.loads(await ws.recv())["type"] == "ack"


async def drive(port):
    await asyncio.gather(*(client(port, role, n) for role, n in CLIENTS))


def wait_for_server(port, proc):
    async def probe():
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws?role=no-such-role") as ws:
            await ws.recv()  # the app closes it (1008): counted as a refused connection

    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"uvicorn exited {proc.returncode}")
        try:
            asyncio.run(probe())
        except websockets.ConnectionClosed:
            return
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(f"uvicorn did not answer on port {port}")
            time.sleep(0.2)


def check(text):
    s, _ = support.parse_text(text)
    messages = sum(n for _, n in CLIENTS)
    got = (support.total(s, "websocket_connections_total", status="success"),
           support.total(s, "websocket_connections_total", status="rejected"),
           support.total(s, "websocket_messages_received_total"),
           support.total(s, "websocket_messages_received_total", message_type="unknown"),
           support.total(s, "websocket_messages_sent_total", message_type="ack", priority="high"),
           support.total(s, "websocket_disconnections_total", reason="client_close"))
    want = (len(CLIENTS), 1, messages, sum((n + 1) // 2 for _, n in CLIENTS), messages, len(CLIENTS))
    assert got == want, f"/metrics totals {got}, expected {want}"


def main():
    with support.Segment("fastapi") as segment, support.Exporter(segment) as exporter:
        port = support.free_port()
        env = dict(os.environ, WSM_SEGMENT=segment)
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--app-dir", APP_DIR, "app:app", "--workers", "4",
             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            env=env, start_new_session=True)  # its own process group: the workers stop with it
        try:
            wait_for_server(port, proc)
            asyncio.run(drive(port))
            support.wait_for(lambda: check(exporter.metrics_text()), what="exporter /metrics")
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    assert not os.path.exists("/dev/shm/wsm." + segment), "segment left behind"
    print("ok")


if __name__ == "__main__":
    main()
