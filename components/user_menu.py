"""The user menu: who is logged in, their roles, and logout (a CSRF-protected POST form)."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html


def user_menu(username: str, roles: tuple[str, ...], csrf_token: str) -> dbc.DropdownMenu:
    return dbc.DropdownMenu(
        [
            dbc.DropdownMenuItem(f"Roles: {', '.join(roles) or 'none'}", header=True),
            dbc.DropdownMenuItem("Users & roles", href="/users", id="menu-users"),
            dbc.DropdownMenuItem(divider=True),
            html.Form(
                [
                    dbc.Input(type="hidden", name="csrf_token", value=csrf_token),
                    html.Button("Log out", type="submit", className="dropdown-item", id="logout-button"),
                ],
                method="POST",
                action="/logout",
                id="logout-form",
            ),
        ],
        label=username,
        id="user-menu-dropdown",
        align_end=True,
        color="secondary",
        size="sm",
        toggle_class_name="rc-user-toggle",
    )
