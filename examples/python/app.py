"""A FastAPI WebSocket app recording through wsmetrics.websocket.WebSocketMetricsCollector.

    PYTHONPATH=build/python WSM_SEGMENT=demo /usr/bin/python3 -m uvicorn --app-dir examples/python \
        app:app --workers 4 --host 127.0.0.1 --port 8000

Clients connect to ws://HOST:PORT/ws?role=doctor&user_id=u1&patient_id=p7 and send JSON messages
{"type": "vitals", "priority": "normal", ...}; each is answered with {"type": "ack"}. Recorded: the
connection on accept, each message received (with its parse time) and each ack sent (with its send
time), the disconnection on close. Every uvicorn worker is a process of its own recording into the
one segment (WSM_SEGMENT, else the exporter's default); wsm-exporter serves the sum at /metrics.
"""

import json
import time
import uuid

from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from wsmetrics.websocket import LABEL_VALUES, WebSocketMetricsCollector

app = FastAPI()
# One collector per worker process, made at its startup: uvicorn's workers are spawned
# processes, each importing this module and running its own lifespan.
metrics = None


@app.on_event("startup")
async def start_metrics():
    global metrics
    metrics = WebSocketMetricsCollector(enable_resource_monitoring=True)
    await metrics.start_monitoring()


@app.on_event("shutdown")
async def stop_metrics():
    await metrics.stop_monitoring()


def message_type(text):
    """The message's "type" and "priority" as the catalogue knows them: a client's typo or a
    malformed message is counted as "unknown" (priority "normal"), never refused by the metrics."""
    try:
        doc = json.loads(text)
        kind, priority = str(doc.get("type", "unknown")), str(doc.get("priority", "normal"))
    except (ValueError, AttributeError):
        return "unknown", "normal"
    return (kind if kind in LABEL_VALUES["message type"] else "unknown",
            priority if priority in LABEL_VALUES["priority"] else "normal")


@app.websocket("/ws")
async def websocket_endpoint(websocket: WebSocket, role: str = "doctor", user_id: str = "", patient_id: str = ""):
    await websocket.accept()
    connection_id = uuid.uuid4().hex
    try:
        metrics.record_connection(connection_id, role, user_id, patient_id)
    except ValueError as e:  # a role the catalogue does not know: refused, and counted so
        metrics.record_connection_failed("unknown", "rejected")
        await websocket.close(code=1008, reason=str(e)[:120])
        return
    reason = "network_error"
    try:
        while True:
            text = await websocket.receive_text()
            parsed = time.perf_counter()
            kind, priority = message_type(text)
            metrics.record_message_received(connection_id, kind, len(text), time.perf_counter() - parsed)
            reply = json.dumps({"type": "ack", "for": kind})
            queued = time.perf_counter()
            await websocket.send_text(reply)
            metrics.record_message_sent(connection_id, "ack", priority, len(reply), time.perf_counter() - queued)
    except WebSocketDisconnect:
        reason = "client_close"
    finally:
        metrics.record_disconnection(connection_id, reason)
