"""Users & roles: everyone sees who holds which role; only users.admin may change anything."""

import dash_bootstrap_components as dbc
from dash import dcc, html

from components.grid import data_grid
from components.guarded import guarded_button
from pages.context import PageContext

ADMIN = "users.admin"
GRID = "users-grid"
CHANGED = "users-changed"
NEW_NAME = "users-new-name"
NEW_PASSWORD = "users-new-password"
NEW_ROLES = "users-new-roles"
CREATE = "users-create"
SELECTED = "users-selected"
ROLE = "users-role"
GRANT = "users-grant"
REVOKE = "users-revoke"
PASSWORD = "users-password"
SET_PASSWORD = "users-set-password"
DISABLE = "users-disable"
ENABLE = "users-enable"
END_SESSIONS = "users-end-sessions"
FEEDBACK = "users-feedback"

COLUMNS = [
    {"field": "username", "headerName": "User"},
    {"field": "roles", "headerName": "Roles"},
    {"field": "active", "headerName": "Active"},
    {"field": "sessions", "headerName": "Sessions", "headerTooltip": "open logins (browsers) of this user"},
]


def layout(ctx: PageContext):
    perms = ctx.permissions
    disabled = not ctx.can(ADMIN)
    create = dbc.Card(
        dbc.CardBody(
            [
                html.H2("Create a user", className="h6"),
                dbc.Input(id=NEW_NAME, placeholder="user name", class_name="mb-2", disabled=disabled,
                          autoComplete="off"),
                dbc.Input(id=NEW_PASSWORD, type="password", placeholder="password", class_name="mb-2",
                          disabled=disabled, autoComplete="new-password"),
                dbc.Checklist(id=NEW_ROLES, options=[], value=["viewer"], inline=True, class_name="mb-2"),
                guarded_button(CREATE, "Create user", ADMIN, perms, color="primary", size="sm"),
            ]
        ),
        class_name="mb-3",
    )
    change = dbc.Card(
        dbc.CardBody(
            [
                html.H2("Change a user", className="h6"),
                dcc.Dropdown(id=SELECTED, placeholder="Choose a user", className="mb-2", disabled=disabled),
                dbc.InputGroup(
                    [
                        dbc.Select(id=ROLE, options=[], placeholder="role", disabled=disabled),
                        guarded_button(GRANT, "Grant", ADMIN, perms, color="success", size="sm", class_name="ms-1"),
                        guarded_button(REVOKE, "Revoke", ADMIN, perms, color="warning", size="sm", class_name="ms-1"),
                    ],
                    class_name="mb-2",
                ),
                dbc.InputGroup(
                    [
                        dbc.Input(id=PASSWORD, type="password", placeholder="new password", disabled=disabled,
                                  autoComplete="new-password"),
                        guarded_button(SET_PASSWORD, "Set password", ADMIN, perms, color="secondary", size="sm",
                                       class_name="ms-1"),
                    ],
                    class_name="mb-2",
                ),
                html.Div(
                    [
                        guarded_button(DISABLE, "Disable account", ADMIN, perms, color="danger", size="sm",
                                       outline=True, class_name="me-2"),
                        guarded_button(ENABLE, "Enable account", ADMIN, perms, color="success", size="sm",
                                       outline=True, class_name="me-2"),
                        guarded_button(END_SESSIONS, "End sessions", ADMIN, perms, color="warning", size="sm",
                                       outline=True, title="log this user out of every browser now"),
                    ]
                ),
            ]
        )
    )
    return html.Div(
        [
            html.H1("Users & roles", className="h3"),
            html.P(
                "Accounts and the roles they hold. Changes are audited."
                if not disabled
                else "Read only: changing accounts needs the permission users.admin.",
                className="text-body-secondary",
            ),
            dcc.Store(id=CHANGED, data=0),
            html.Div(id=FEEDBACK),
            dbc.Row(
                [
                    dbc.Col(data_grid(GRID, COLUMNS, row_id="username", height="50vh"), lg=7),
                    dbc.Col([create, change], lg=5),
                ]
            ),
        ]
    )
