# grid's Locust event hook: loaded next to the user's locustfile (`-f user.py,grid_locust_hook.py`)
# by grid's locust adapter (src/tools/locust.ts). It appends one JSON line per request to the
# file named by GRID_LOCUST_RESULTS, line-buffered, because Locust's own CSVs are flushed only
# every 10 s and not at exit (Debian's 2.12). One line, the `locust-hook` format:
#   {"timestamp": <start, epoch ms>, "label": <name>, "method": <request type>,
#    "latencyMs": <ms>, "success": <bool>, "status": "<HTTP status or "">",
#    "bytesIn": <response length>, "bytesOut": <request body length>, "error": <text or null>}
import json
import os
import time

from locust import events

_path = os.environ.get("GRID_LOCUST_RESULTS")
_out = open(_path, "a", buffering=1, encoding="utf-8") if _path else None


def _body_length(response):
    request = getattr(response, "request", None)
    body = getattr(request, "body", None) if request is not None else None
    if body is None:
        return 0
    return len(body.encode("utf-8")) if isinstance(body, str) else len(body) if isinstance(body, (bytes, bytearray)) else 0


@events.request.add_listener
def _grid_on_request(request_type, name, response_time, response_length, response=None, exception=None, start_time=None, **_kwargs):
    if _out is None:
        return
    status = getattr(response, "status_code", None)
    started = start_time * 1000.0 if start_time else time.time() * 1000.0 - (response_time or 0)
    _out.write(json.dumps({
        "timestamp": round(started, 3),
        "label": name,
        "method": request_type,
        "latencyMs": response_time or 0,
        "success": exception is None,
        "status": "" if status is None else str(status),
        "bytesIn": response_length or 0,
        "bytesOut": _body_length(response),
        "error": None if exception is None else str(exception)[:500],
    }, separators=(",", ":")) + "\n")


@events.quitting.add_listener
def _grid_on_quitting(**_kwargs):
    if _out is not None:
        _out.flush()
