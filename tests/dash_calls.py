"""Build `/_dash-update-component` bodies from the app's own callback map (no hand-kept lists)."""

from __future__ import annotations


def server_callbacks(app) -> dict[str, dict]:
    """Callbacks that run on the server (clientside ones never reach it)."""
    return {key: spec for key, spec in app.callback_map.items() if "callback" in spec}


def body_for(key: str, spec: dict, values: dict | None = None, triggered: str | None = None) -> dict:
    values = values or {}
    declared = spec["output"] if isinstance(spec["output"], list | tuple) else [spec["output"]]
    outputs = [{"id": o.component_id, "property": o.component_property} for o in declared]
    inputs = [{**i, "value": values.get(f"{i['id']}.{i['property']}")} for i in spec["inputs"]]
    state = [{**s, "value": values.get(f"{s['id']}.{s['property']}")} for s in spec["state"]]
    first = spec["inputs"][0]
    return {
        "output": key,
        "outputs": outputs if key.startswith("..") else outputs[0],
        "inputs": inputs,
        "state": state,
        "changedPropIds": [triggered or f"{first['id']}.{first['property']}"],
    }


def post(client, key, spec, token=None, values=None, triggered=None):
    headers = {"X-CSRFToken": token} if token else {}
    return client.post("/_dash-update-component", json=body_for(key, spec, values, triggered), headers=headers)
