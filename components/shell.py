"""The static frame around every page: navbar, user menu slot, theme switch, toast area, page slot.

It is static on purpose: Dash evaluates the layout outside any request, so everything that depends on the
logged-in user is filled in by the routing callback.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from components.toasts import toast_area

URL = "url"
PAGE = "page-content"
USER_MENU = "user-menu"
THEME_SWITCH = "theme-switch"
PAGE_TITLE = "page-title"
NAV = "nav"
ALARMS = "alarms-badge"  # unacknowledged ERROR and FATAL messages (callbacks/alarms.py)
ALARMS_TICK = "alarms-tick"
ALARMS_STATE = "alarms-state"  # {"count": n, "fatal": newest unacknowledged FATAL id}: for the optional beep
ALARMS_POLL_MS = 5000
ALARMS_LINK = "/messages?sev=ERROR,FATAL"


def nav_id(path: str) -> str:
    return f"nav-{path.strip('/') or 'home'}"


def navbar(nav_items: list[tuple[str, str]]) -> dbc.Navbar:
    links = [
        dbc.NavItem(dbc.NavLink(label, href=path, id=nav_id(path), active=False)) for path, label in nav_items
    ]
    return dbc.Navbar(
        dbc.Container(
            [
                dbc.NavbarBrand("DUNE Run Control", href="/", className="fw-semibold"),
                dbc.NavbarToggler(id="navbar-toggler"),
                dbc.Collapse(
                    [
                        dbc.Nav(links, id=NAV, navbar=True, className="me-auto"),
                        html.Div(
                            [
                                html.A(
                                    dbc.Badge("", id=ALARMS, color="danger", pill=True, class_name="rc-alarm-badge"),
                                    href=ALARMS_LINK, className="me-3 text-decoration-none d-none", id=ALARMS + "-link",
                                    title="Unacknowledged ERROR and FATAL messages",
                                ),
                                dbc.Switch(
                                    id=THEME_SWITCH,
                                    label="Dark",
                                    value=False,
                                    persistence=True,
                                    persistence_type="local",
                                    class_name="mb-0 me-3 text-light",
                                ),
                                html.Div(id=USER_MENU),
                            ],
                            className="d-flex align-items-center",
                        ),
                    ],
                    id="navbar-collapse",
                    is_open=False,
                    navbar=True,
                ),
            ],
            fluid=True,
        ),
        color="dark",
        dark=True,
        class_name="rc-navbar py-1",
    )


def shell(nav_items: list[tuple[str, str]], demo: bool) -> html.Div:
    banner = (
        [
            dbc.Alert(
                "Demo mode: embedded defaults and demo users. Not for a real detector.",
                color="warning",
                class_name="rc-demo-banner",
                id="demo-banner",
            )
        ]
        if demo
        else []
    )
    return html.Div(
        [
            dcc.Location(id=URL, refresh="callback-nav"),
            dcc.Store(id=PAGE_TITLE),
            dcc.Store(id=ALARMS_STATE),
            dcc.Interval(id=ALARMS_TICK, interval=ALARMS_POLL_MS),
            navbar(nav_items),
            *banner,
            toast_area(),
            dbc.Container(id=PAGE, fluid=True, class_name="rc-page"),
        ]
    )
