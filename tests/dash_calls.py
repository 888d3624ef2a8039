"""Build `/_dash-update-component` bodies from the app's own callback map (no hand-kept lists), and call them.

A background callback answers its first POST with a job handle (`cacheKey`, `job`); `post` then polls as the
renderer does (the same body, with the handles as query arguments) until the job's answer, and returns it with
the side updates (toasts) sent along the way merged in, so a test reads one answer whatever the callback's kind.
"""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

from flask import Response

BACKGROUND_TIMEOUT = 60.0


def server_callbacks(app) -> dict[str, dict]:
    """Callbacks that run on the server (clientside ones never reach it)."""
    return {key: spec for key, spec in app.callback_map.items() if "callback" in spec}


def _pattern(component_id) -> dict | None:
    """A pattern-matching id (as the app declares it, or as the callback map keeps it), else None."""
    if isinstance(component_id, dict):
        return component_id
    if isinstance(component_id, str) and component_id.startswith("{"):
        return json.loads(component_id)
    return None


def concrete_id(pattern: dict) -> dict:
    """One component the pattern matches: wildcards (ALL, MATCH, ALLSMALLER) become "x"."""
    return {k: ("x" if isinstance(v, list) or type(v).__name__ == "Wildcard" else v) for k, v in pattern.items()}


def _stringify(component_id: dict) -> str:
    return json.dumps(component_id, sort_keys=True, separators=(",", ":"))


def _dependency(dep: dict, values: dict):
    """What the renderer sends for one input or state: a pattern matches one component when the test gives a
    value for it, none otherwise."""
    name = f"{dep['id']}.{dep['property']}"
    pattern = _pattern(dep["id"])
    if pattern is None:
        return {**dep, "value": values.get(name)}
    if name not in values:
        return []
    return [{"id": concrete_id(pattern), "property": dep["property"], "value": values[name]}]


def _trigger(name: str) -> str:
    component, _, prop = name.rpartition(".")
    pattern = _pattern(component)
    return f"{_stringify(concrete_id(pattern))}.{prop}" if pattern is not None else name


def body_for(key: str, spec: dict, values: dict | None = None, triggered: str | None = None) -> dict:
    values = values or {}
    declared = spec["output"] if isinstance(spec["output"], list | tuple) else [spec["output"]]
    outputs = [[] if _pattern(o.component_id) is not None else
               {"id": o.component_id, "property": o.component_property} for o in declared]
    first = spec["inputs"][0]
    return {
        "output": key,
        "outputs": outputs if key.startswith("..") else outputs[0],
        "inputs": [_dependency(i, values) for i in spec["inputs"]],
        "state": [_dependency(s, values) for s in spec["state"]],
        "changedPropIds": [_trigger(triggered or f"{first['id']}.{first['property']}")],
    }


def post(client, key, spec, token=None, values=None, triggered=None, timeout=BACKGROUND_TIMEOUT):
    headers = {"X-CSRFToken": token} if token else {}
    body = body_for(key, spec, values, triggered)
    response = client.post("/_dash-update-component", json=body, headers=headers)
    handle = _job_handle(response)
    if handle is None:
        return response
    return poll_job(client, body, headers, handle, timeout)


def _job_handle(response) -> dict | None:
    if response.status_code != 200 or not response.is_json:
        return None
    data = response.get_json(silent=True)
    if isinstance(data, dict) and "cacheKey" in data and "job" in data:
        return {"cacheKey": data["cacheKey"], "job": data["job"]}
    return None


def poll_job(client, body, headers, handle, timeout=BACKGROUND_TIMEOUT):
    """Poll a background job until it answers; its answer, with every side update seen merged in."""
    side: dict = {}
    deadline = time.monotonic() + timeout
    url = "/_dash-update-component?" + urlencode(handle)
    while True:
        response = client.post(url, json=body, headers=headers)
        data = response.get_json(silent=True) if response.is_json else None
        if isinstance(data, dict):
            for component, props in (data.get("sideUpdate") or {}).items():
                side.setdefault(component, {}).update(props)
        finished = response.status_code != 200 or not isinstance(data, dict) or "response" in data
        if finished:
            if side and isinstance(data, dict):
                data["sideUpdate"] = side
                return Response(json.dumps(data), status=response.status_code, mimetype="application/json")
            if side and response.status_code == 204:
                return Response(json.dumps({"multi": True, "response": {}, "sideUpdate": side}), status=200,
                                mimetype="application/json")
            return response
        if time.monotonic() > deadline:
            raise AssertionError(f"background job {handle['job']} did not answer in {timeout} s")
        time.sleep(0.05)
