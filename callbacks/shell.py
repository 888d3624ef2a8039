"""Routing, the user menu, the page title and the theme switch."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import Input, Output, State, html
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from auth.actions import guarded_callback
from auth.shapes import In, St, text
from components import shell
from components.guarded import missing_permission_text
from components.user_menu import user_menu
from pages import find_page, nav_items
from pages.context import PageContext


def register(app, services) -> None:
    nav_paths = [path for path, _ in nav_items()]

    @guarded_callback(
        app,
        services.audit,
        Output(shell.PAGE, "children"),
        Output(shell.USER_MENU, "children"),
        Output(shell.PAGE_TITLE, "data"),
        *[Output(shell.nav_id(p), "active") for p in nav_paths],
        In(shell.URL, "pathname", text(2000)),
        St(shell.URL, "search", text(4000)),
        permission=None,
    )
    def route(pathname, search):
        info = current_user.info
        ctx = PageContext(info.username, info.permissions, info.roles, services.settings.demo,
                          search or "", settings=services.settings)
        page = find_page(pathname)
        if page is None:
            content = _not_found(pathname)
            title = "Not found"
        elif not ctx.can(page.permission):
            content = dbc.Alert(f"This page is not open to you. {missing_permission_text(page.permission)}",
                                color="warning", id="no-access")
            title = page.title
        else:
            content = page.layout(ctx)
            title = page.title
        active = [page is not None and page.path == p for p in nav_paths]
        menu = user_menu(info.username, info.roles, generate_csrf())
        return (content, menu, f"{title} · DUNE Run Control", *active)

    app.clientside_callback(
        "function(title) { if (title) { document.title = title; } return window.dash_clientside.no_update; }",
        Output(shell.PAGE_TITLE, "id"),
        Input(shell.PAGE_TITLE, "data"),
    )
    app.clientside_callback(
        """function(dark) {
            var mode = dark ? 'dark' : 'light';
            document.documentElement.setAttribute('data-bs-theme', mode);
            document.documentElement.setAttribute('data-ag-theme-mode', mode);
            try { window.localStorage.setItem('rc-theme', mode); } catch (e) {}
            return window.dash_clientside.no_update;
        }""",
        Output(shell.THEME_SWITCH, "id"),
        Input(shell.THEME_SWITCH, "value"),
    )
    app.clientside_callback(
        "function(n, open) { return n ? !open : open; }",
        Output("navbar-collapse", "is_open"),
        Input("navbar-toggler", "n_clicks"),
        State("navbar-collapse", "is_open"),
    )


def _not_found(pathname):
    return html.Div(
        [
            html.H1("Page not found", className="h3"),
            html.P(["There is no page at ", html.Code(pathname or "/"), "."]),
            dbc.Button("Go to the overview", href="/", color="primary", size="sm"),
        ],
        id="not-found",
    )
