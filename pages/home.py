"""Overview: the control room at a glance. A card per session, the health of every backend, your permissions.

The cards and the health are filled live by callbacks/overview.py from the shared pollers."""

from dash import dcc, html

from pages.context import PageContext

SESSIONS = "ov-sessions"
HEALTH = "ov-health"
STATUS = "ov-status"
TICK = "ov-tick"
SHOWN = "ov-shown"


def layout(ctx: PageContext):
    perms = sorted(ctx.permissions)
    return html.Div([
        html.Div([html.H1("Overview", className="h3 mb-0 me-3"),
                  html.Span(id=STATUS, className="small text-body-secondary")],
                 className="d-flex align-items-baseline mb-2"),
        html.Div(id=SESSIONS, className="mb-3"),
        html.H2("Backends", className="h6"),
        html.Div(id=HEALTH, className="mb-3"),
        html.Div([html.Span(f"{ctx.username} · {', '.join(ctx.roles) or 'no role'}: ", className="me-1"),
                  *[html.Code(p, className="rc-perm me-1") for p in perms]] if perms else
                 "Nothing yet: ask an administrator.", className="small text-body-secondary", id="ov-perms"),
        dcc.Interval(id=TICK, interval=2000),
        dcc.Store(id=SHOWN),
    ])
