"""Overview: a card per session and the health of every backend, refreshed from the shared pollers.

A tick reads the same caches and indexed queries as the Sessions page; the drunc servers without a poller of
their own (session manager, connectivity service) are probed at most every HEALTH_TTL seconds for every tab and
worker together (the answer is kept in the shared cache), since every drunc rpc also publishes two broadcasts.
The same probe gives each endpoint's druncschema layout: services.drunc.health() reports it for the session
manager and the configured root (`schema`), and each other known root's is resolved there too (one `status`
rpc per root not detected yet, in parallel, with the health deadline).
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import dash_bootstrap_components as dbc
from dash import Output, dcc, html, no_update
from sqlalchemy.exc import SQLAlchemyError

from auth.actions import guarded_callback
from auth.shapes import In, St, clicks, or_reset, text
from callbacks.sessions_page import gather
from drunc_client.backends import HEALTH_TIMEOUT, HEALTH_USER
from drunc_client.errors import DruncError
from drunc_client.layouts import detect_controller, resolve
from pages import home as ui
from viewmodels import layouts as layouts_vm
from viewmodels import sessions as vm

log = logging.getLogger("runcontrol.overview")

HEALTH_TTL = 30.0
HEALTH_KEY = "overview:health"


def root_layouts(drunc, addresses) -> dict[str, str]:
    """{root address: "0.8" | "0.11"}: forced, known to this process, or detected now (at most 8 at once)."""
    addresses = sorted(set(addresses))

    def one(address):
        try:
            return resolve(drunc.schema, drunc.layouts, address,
                           lambda: detect_controller(address, HEALTH_USER, HEALTH_TIMEOUT))
        except DruncError:
            return ""

    if not addresses:
        return {}
    with ThreadPoolExecutor(max_workers=min(8, len(addresses))) as pool:
        return {a: layout for a, layout in zip(addresses, pool.map(one, addresses), strict=True) if layout}


def probed_health(services, roots=()) -> dict:
    """services.drunc.health() for the servers no poller watches, and the layouts of every endpoint (`roots`:
    the known root controllers' addresses), shared by everybody for HEALTH_TTL seconds."""
    cache = services.process_feed.cache
    cached = cache.get(HEALTH_KEY)
    if cached is not None:
        return cached
    if not cache.add(HEALTH_KEY + ":lease", 1, expire=10):
        return {}  # another tab or worker is probing: show the rest now
    try:
        health = services.drunc.health()
        controller = health.get("controller") or {}
        known = {controller["address"]: controller["schema"]} if controller.get("schema") and \
            controller.get("address") else {}
        health["roots"] = {**root_layouts(services.drunc, set(roots) - set(known)), **known}
        cache.set(HEALTH_KEY, health, expire=HEALTH_TTL)
        return health
    finally:
        cache.delete(HEALTH_KEY + ":lease")


def root_addresses(got) -> dict[str, str]:
    """{session: its registered root's address} from the tick's summaries."""
    return {name: s["root"] for name, s in got.summaries.items() if s and s.get("registered") and s.get("root")}


def backend_items(services, got, probed: dict) -> list[tuple[str, str, str]]:
    """(backend, status colour, text) of the backends that are not a session's root, cheap enough for every tick:
    their texts are part of what an unchanged tick compares."""
    state = got.state
    forced = services.drunc.schema_forced
    items = []
    if services.process_feed.configured:
        if state is None:
            items.append(("process manager", "secondary", "no answer yet"))
        elif state.ok:
            schema = layouts_vm.short_text((probed.get("process_manager") or {}).get("schema"), forced)
            items.append(("process manager", "success",
                          f"{state.total} processes" + (f" · {schema}" if schema else "")))
        else:
            items.append(("process manager", "danger", state.error or "down"))
    else:
        items.append(("process manager", "secondary", "not configured"))
    for key, label in (("session_manager", "session manager"), ("connectivity", "connectivity service")):
        entry = probed.get(key)
        if entry is None:
            configured = services.drunc.session_manager_url if key == "session_manager" else services.drunc.csc_url
            items.append((label, "secondary", "not configured" if not configured else "checking"))
        else:
            detail = entry.get("error") or entry.get("address") or "ok"
            schema = layouts_vm.short_text(entry.get("schema"), forced)
            items.append((label, "success" if entry.get("status") == "ok" else "danger",
                          f"{schema} · {detail}" if schema else detail))
    try:
        status = services.messages.status() if got.db_ok else None
    except SQLAlchemyError:
        status = None
    if status is None:
        items.append(("message consumer", "secondary", "never ran" if got.db_ok else "unknown: no database"))
    else:
        last = status.last_message_time.strftime("%H:%M:%S UTC") if status.last_message_time else "none yet"
        colour = "warning" if status.last_error else "success"
        items.append(("message consumer", colour, f"last message {last} · {status.undecodable} undecodable"
                      + (f" · {status.last_error[:120]}" if status.last_error else "")))
    # the tick's two queries answered or not: no third one to ask
    items.append(("database", "success" if got.db_ok else "danger",
                  services.db.engine.dialect.name if got.db_ok else "does not answer"))
    return items


def health_items(backends: list[tuple[str, str, str]], sessions: list[dict],
                 schemas: dict[str, str] | None = None) -> list[tuple[str, str, str]]:
    """Every backend: the process manager first, then each root controller (with its druncschema layout from
    `schemas`, by session, when known), then the others."""
    roots = []
    schemas = schemas or {}
    for r in sessions:
        if r["registered"] is None:
            continue
        colour = "danger" if r["root_error"] else "success" if r["registered"] else "secondary"
        text = r["root_error"] or vm.root_text(r)
        schema = schemas.get(r["session"]) if r["registered"] else ""
        roots.append((f"root controller {r['session']}", colour, f"{text} · {schema}" if schema else text))
    return [*backends[:1], *roots, *backends[1:]]


def session_card(r: dict):
    link = vm.links(r["session"])
    return dbc.Col(html.Div(dbc.Card([
        dbc.CardHeader([html.Strong(r["session"], className="me-2"),
                        dbc.Badge(vm.root_text(r), color=r["colour"],
                                  text_color="dark" if r["colour"] == "light" else None)],
                       class_name=f"border-{r['colour']}"),
        dbc.CardBody([
            html.Div(vm.run_text(r) + (f" · since {r['run_since'][11:16]} UTC" if r["run_since"] else "")),
            html.Div(f"{r['running']} running · {r['dead']} dead · {len(r['hosts'])} hosts", className="small"),
            html.Div(f"in charge: {r['in_charge'] or 'nobody'}", className="small"),
            html.Div(dcc.Link(f"{r['errors']} unacknowledged errors", href=link["messages"],
                              className="text-danger" if r["errors"] else "text-body-secondary"),
                     className="small"),
            html.Div([dcc.Link("controller", href=link["controller"], className="me-2"),
                      dcc.Link("processes", href=link["processes"], className="me-2"),
                      dcc.Link("session", href=link["sessions"])], className="small mt-1"),
        ]),
    ], class_name="h-100"), className="h-100 rc-session-card", **{"data-session": r["session"]}), md=6, xl=3,
        class_name="mb-3")


def register(app, services) -> None:
    @guarded_callback(
        app, services.audit,
        Output(ui.SESSIONS, "children"),
        Output(ui.HEALTH, "children"),
        Output(ui.STATUS, "children"),
        Output(ui.SHOWN, "data"),
        In(ui.TICK, "n_intervals", clicks),
        St(ui.SHOWN, "data", or_reset(text(64))),
        running=[(Output(ui.TICK, "disabled"), True, False)],
        permission="view",
    )
    def refresh_overview(_ticks, shown):
        got = gather(services)
        roots = root_addresses(got)
        probed = probed_health(services, roots.values())
        backends = backend_items(services, got, probed)
        forced = services.drunc.schema_forced
        schemas = {name: layouts_vm.short_text((probed.get("roots") or {}).get(address), forced)
                   for name, address in roots.items()}
        signature = vm.signature([got.mark, backends, schemas])
        if signature == shown:
            return (no_update,) * 4
        sessions = got.rows()
        health = health_items(backends, sessions, schemas)
        cards = dbc.Row([session_card(r) for r in sessions]) if sessions else html.Div(
            ["No session runs. ", dcc.Link("Boot one from a saved configuration", href="/sessions"), "."],
            className="text-body-secondary")
        badges = html.Div([html.Span([dbc.Badge(name, color=colour, class_name="me-1"),
                                      html.Span(detail, className="small me-3")], **{"data-backend": name})
                           for name, colour, detail in health], id="ov-health-list")
        when = datetime.now(UTC).strftime("%H:%M:%S")
        return cards, badges, f"{len(sessions)} sessions · updated {when} UTC", signature
