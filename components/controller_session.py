"""The Controller page's header: title, session picker, the live status line and the refresh picker, the banners
of a session not registered or a root unreachable; the view state kept in the URL
(`/controller?session=NAME&refresh=1`)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs

import dash_bootstrap_components as dbc
from dash import dcc, html

from components.refresh import PAUSED_MS, REFRESH_CHOICES, live_status
from components.refresh import refresh_picker as shared_refresh_picker
from viewmodels.controller_tree import clean_session

SESSION_INPUT = "ctl-session-input"
SESSION_LIST = "ctl-session-list"
REFRESH = "ctl-refresh"
REFRESH_NOW = "ctl-refresh-now"
TICK = "ctl-tick"
VERSION = "ctl-version"  # {"s": session, "e": epoch, "v": version, "ok": bool}: what the tab's tree shows
LIVE = "ctl-live"
STATUS = "ctl-status"
URL_SYNC = "ctl-url-sync"
NOT_REGISTERED = "ctl-not-registered"
BANNER = "ctl-banner"


@dataclass(frozen=True)
class ControllerView:
    session: str = ""  # "" = the configured session (CSC_SESSION)
    refresh: str = "1"


def view_from_query(query: str | None, default_session: str = "") -> ControllerView:
    """`?session=np04&refresh=5` → the view; a missing or implausible session name is the configured one."""
    params = parse_qs((query or "").lstrip("?"))
    session = clean_session((params.get("session") or [""])[0][:255]) or default_session
    refresh = (params.get("refresh") or ["1"])[0]
    return ControllerView(session, refresh if refresh in REFRESH_CHOICES else "1")


def interval_ms(refresh: str) -> int:
    return {"1": 1000, "5": 5000}.get(refresh, PAUSED_MS)


def session_picker(session: str) -> html.Div:
    return html.Div(
        [
            dbc.Label("Session", html_for=SESSION_INPUT, class_name="small me-2 mb-0 text-body-secondary"),
            # a free text field with suggestions: any session the connectivity service knows can be typed
            dbc.Input(id=SESSION_INPUT, value=session, list=SESSION_LIST, debounce=True, size="sm", type="text",
                      autocomplete="off", maxlength=128, style={"width": "16rem"},
                      placeholder="type or pick a session, then Enter"),
            html.Datalist(id=SESSION_LIST, children=[html.Option(value=session)]),
        ],
        className="d-flex align-items-center me-4",
    )


def refresh_picker(refresh: str) -> html.Div:
    return shared_refresh_picker(REFRESH, REFRESH_NOW, refresh)


def status_line() -> html.Div:
    return html.Div(
        [
            *live_status(LIVE, STATUS),
        ],
        className="d-flex align-items-center me-4",
    )


def header(view: ControllerView):
    return html.Div(
        [
            html.Div(
                [
                    html.H1("Controller", className="h3 mb-0 me-4"),
                    session_picker(view.session),
                    status_line(),
                    refresh_picker(view.refresh),
                ],
                className="d-flex align-items-center flex-wrap gap-2 mb-2",
            ),
            dbc.Alert(id=NOT_REGISTERED, color="info", is_open=False, class_name="py-2"),
            dbc.Alert(id=BANNER, color="danger", is_open=False, class_name="py-2"),
            dcc.Interval(id=TICK, interval=interval_ms(view.refresh)),
            dcc.Store(id=VERSION),
            dcc.Store(id=URL_SYNC),
        ],
        id="ctl-header",
    )
