"""Where the Controller page's parts meet (built in parallel): the CHANGED bump every part reads, "in charge since"
from the control part's audit events, describe_fsm asked by the tree sweep and never by a tab."""

from __future__ import annotations

import json
import re

from dash_calls import post, server_callbacks
from support import csrf_token

from callbacks import controller_shared as shared
from components import controller_ids as ids
from components import fsm_panel as ui
from drunc_client.controller import ControllerClient


def _callback(app, name):
    return next((k, s) for k, s in server_callbacks(app).items() if s["callback"].__name__ == name)


def test_every_part_reads_the_changed_bump_with_one_shape_and_the_bump_fits_it(sim_app):
    readers = []
    for spec in server_callbacks(sim_app).values():
        for name, shape in spec["callback"].input_shapes:
            if name == f"{ids.CHANGED}.data":
                readers.append(spec["callback"].__name__)
                assert shape is shared.CHANGED, spec["callback"].__name__
    assert {"refresh_tree", "fsm_tick", "refresh_control", "refresh_banner", "refresh_timeline"} <= set(readers)
    assert isinstance(shared.CHANGED(shared.changed_now()), int)
    assert shared.CHANGED(1.5) is None  # an older page's float is read as missing, never refused every tick


def test_in_charge_since_covers_the_subtree_taken(sim_services):
    audit = sim_services.audit
    audit.record("alice", shared.TAKE_CONTROL, target="root-controller", outcome="ok",
                 arguments={"path": "root-controller", "session": "s"})
    audit.record("alice", "controller.take_somewhere_else", target="x", outcome="ok", arguments={"path": "other"})
    assert shared.taken_since(audit, "root-controller", "alice") is not None
    assert shared.taken_since(audit, "root-controller/segment-controller-0", "alice") is not None
    assert shared.taken_since(audit, "root-controller-2", "alice") is None  # a prefix is not a parent
    assert shared.taken_since(audit, "other", "alice") is None
    assert shared.taken_since(audit, "root-controller", "bob") is None


def test_the_fsm_tick_reads_what_the_sweep_described_and_never_calls_drunc(sim_app, sim_services, logged_in,
                                                                          simulator, monkeypatch):
    feeds = sim_services.controller_feeds
    feeds.refresh_now(wait=10)  # the sweep asks describe_fsm
    assert feeds.fsm.graph("", feeds.snapshot().root, "initial").allowed("initial") == ["conf"]
    calls = []
    for rpc in ("describe_fsm", "all_transitions"):
        original = getattr(ControllerClient, rpc)
        monkeypatch.setattr(ControllerClient, rpc,
                            lambda self, *a, _o=original, _n=rpc, **k: calls.append(_n) or _o(self, *a, **k))
    shifter = logged_in(sim_app.server.test_client(), "shifter")
    key, spec = _callback(sim_app, "fsm_tick")
    for tick in range(3):
        body = post(shifter, key, spec, csrf_token(shifter), {f"{ui.TICK}.n_intervals": tick,
                                                              f"{ids.SESSION}.data": ""}).json
        if tick == 0:
            assert "conf" in json.dumps(body["response"][ui.BUTTONS]), body
    assert calls == []
    # stale: a tab still reads the cached answer; the next sweep asks again
    entry = feeds.fsm.cache.get(f"fsm-describe:{feeds.snapshot().root}")
    feeds.fsm.cache.set(f"fsm-describe:{feeds.snapshot().root}", {**entry, "at": 0.0})
    post(shifter, key, spec, csrf_token(shifter), {f"{ui.TICK}.n_intervals": 9, f"{ids.SESSION}.data": ""})
    assert calls == []
    feeds.poll_once(force=True)
    assert "all_transitions" in calls


def test_a_take_through_the_control_part_is_the_fsm_parts_in_charge_since(sim_app, sim_services, logged_in):
    shifter = logged_in(sim_app.server.test_client(), "shifter")
    expert = logged_in(sim_app.server.test_client(), "expert")
    sim_services.controller_feeds.refresh_now(wait=10)
    key, spec = _callback(sim_app, "control")
    request = {"action": "take", "path": "root-controller", "n": 1}
    assert post(shifter, key, spec, csrf_token(shifter), {"ctl-ctrl-go-control.data": request,
                                                          f"{ids.SESSION}.data": ""}).status_code == 200
    sim_services.controller_feeds.refresh_now()
    key, spec = _callback(sim_app, "fsm_tick")
    body = post(expert, key, spec, csrf_token(expert), {f"{ui.TICK}.n_intervals": 1,
                                                        f"{ids.SESSION}.data": ""}).json["response"]
    reason = json.dumps(body[ui.REASON]["children"])
    assert re.search(r"shifter is in charge since \d\d:\d\d UTC; take control first", reason), reason


def test_the_control_panel_sends_a_digest_and_resends_its_node_list_only_when_it_changes(sim_app, sim_services,
                                                                                        logged_in):
    from components import control_panel as cp

    shifter = logged_in(sim_app.server.test_client(), "shifter")
    feeds = sim_services.controller_feeds
    feeds.refresh_now(wait=10)
    key, spec = _callback(sim_app, "refresh_control")

    def tick(shown):
        response = post(shifter, key, spec, csrf_token(shifter), {f"{cp.TICK}.n_intervals": 1,
                                                                  f"{ids.SESSION}.data": "", f"{cp.SHOWN}.data": shown})
        return response.json["response"] if response.status_code == 200 else {}

    first = tick(None)
    shown = first[cp.SHOWN]["data"]
    assert len(shown) <= 64 and len(first[cp.NODE]["options"]) == 4
    assert tick(shown) == {} or cp.NODE not in tick(shown)
    sim_services.drunc.controller("shifter").take_control()
    sim_services.drunc.controller("shifter").execute("conf")  # every node changes state, the node list does not
    feeds.refresh_now()
    changed = tick(shown)
    assert changed[cp.SHOWN]["data"] != shown and "options" not in changed.get(cp.NODE, {})
