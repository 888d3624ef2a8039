"""The Controller page's header: title, session picker, the live status line and the refresh picker; the view
state kept in the URL (`/controller?session=NAME&refresh=1`). FIRST CUT: to be completed with the tree feed."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs

from dash import html

REFRESH_CHOICES = ("1", "5", "0")


@dataclass(frozen=True)
class ControllerView:
    session: str = ""  # "" = the configured session (CSC_SESSION)
    refresh: str = "1"


def view_from_query(query: str | None) -> ControllerView:
    params = parse_qs((query or "").lstrip("?"))
    session = (params.get("session") or [""])[0][:255]
    refresh = (params.get("refresh") or ["1"])[0]
    return ControllerView(session, refresh if refresh in REFRESH_CHOICES else "1")


def header(view: ControllerView):
    return html.Div([html.H1("Controller", className="h3 mb-0 me-4")],
                    className="d-flex align-items-center flex-wrap mb-2", id="ctl-header")
