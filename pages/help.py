"""Help: what each page is for, what the roles allow, and how the session behaves."""

import dash_bootstrap_components as dbc
from dash import html

from auth.permissions import DEFAULT_ROLES, PERMISSIONS
from pages.context import PageContext

_PAGES = (
    ("Overview", "Where to go, and which permissions your account holds."),
    ("Process Manager", "Every process the process manager runs, live: status, host, exit code, tree position. "
     "Restart, kill and flush act on the selected rows after a confirmation listing them; terminate stops "
     "everything and asks you to type the session name. Boot starts new processes from a form or a JSON file. "
     "The Logs button opens the log with follow, search and download. Filters, search and refresh rate are "
     "kept in the address, so a copied link shows the same view. A red dot and a banner mean the process "
     "manager does not answer: the table then shows its last known state."),
    ("Controller", "The tree of controllers and applications with each node's state, and the finite-state "
     "machine (conf → start → enable_triggers → … → stop → scrap). Only transitions valid now are offered."),
    ("Sessions", "Every session live with its detail and actions, saved boot configurations, and the session "
                 "manager: its layout, sessions and configurations, start and stop session."),
    ("Messages", "drunc broadcasts and ERS issues from Kafka, newest first, with severity colours, filters, "
     "search and a follow mode."),
    ("Audit", "Every login, logout and action with its user, target, arguments and outcome, including refused "
     "attempts. Filter by user, action, outcome and time (UTC)."),
    ("Users & roles", "Who holds which role. Administrators create users, set passwords, grant and revoke roles "
     "disable accounts and end a user's sessions (log them out of every browser) here or with the command "
     "line (see the README)."),
)


def layout(ctx: PageContext):
    role_rows = [
        html.Tr([html.Td(html.Strong(name)), html.Td(description),
                 html.Td([html.Code(p, className="rc-perm me-1") for p in perms])])
        for name, (description, perms) in DEFAULT_ROLES.items()
    ]
    perm_rows = [html.Tr([html.Td(html.Code(name)), html.Td(text)]) for name, text in PERMISSIONS.items()]
    return html.Div(
        [
            html.H1("Help", className="h3"),
            html.P("This is the web interface to drunc, DUNE's run control. Operators drive runs; shifters watch "
                   "processes and messages; everything that changes something is checked on the server against "
                   "your permissions and written to the audit trail."),
            html.H2("Pages", className="h5 mt-4"),
            html.Dl([item for title, text in _PAGES for item in (html.Dt(title), html.Dd(text))]),
            html.H2("Roles", className="h5 mt-4"),
            dbc.Table([html.Thead(html.Tr([html.Th("Role"), html.Th("For"), html.Th("Permissions")])),
                       html.Tbody(role_rows)], size="sm", bordered=True),
            html.H2("Permissions", className="h5 mt-4"),
            dbc.Table([html.Tbody(perm_rows)], size="sm", bordered=True),
            html.H2("Good to know", className="h5 mt-4"),
            html.Ul(
                [
                    html.Li("Buttons you may not use are greyed out; hover them to see the permission they need."),
                    html.Li("Every result and error appears as a notice at the top right."),
                    html.Li("When your session ends you are sent to the login page and brought back afterwards. "
                            "It ends when you log out, when your password changes, when an administrator ends it, "
                            "and after a while with no page of this site open."),
                    html.Li("The light/dark switch in the navbar is remembered by this browser."),
                    html.Li("All times are UTC."),
                ]
            ),
        ]
    )
