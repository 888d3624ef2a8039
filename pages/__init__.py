"""Layout functions, one module a page, and the table of pages the router and navbar read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pages import admin_users, audit, controller, help, home, messages, process_manager, sessions
from pages.context import PageContext


@dataclass(frozen=True)
class Page:
    path: str
    title: str
    layout: Callable[[PageContext], object]
    nav_label: str | None = None  # shown in the navbar when set
    permission: str = "view"


PAGES: tuple[Page, ...] = (
    Page("/", "Overview", home.layout),
    Page("/process-manager", "Process Manager", process_manager.layout, "Process Manager"),
    Page("/controller", "Controller", controller.layout, "Controller"),
    Page("/sessions", "Sessions", sessions.layout, "Sessions"),
    Page("/messages", "Messages", messages.layout, "Messages"),
    Page("/audit", "Audit", audit.layout, "Audit"),
    Page("/help", "Help", help.layout, "Help"),
    Page("/users", "Users & roles", admin_users.layout),
)


def nav_items() -> list[tuple[str, str]]:
    return [(p.path, p.nav_label) for p in PAGES if p.nav_label]


def find_page(path) -> Page | None:
    wanted = (path if isinstance(path, str) and path else "/").rstrip("/") or "/"
    return next((p for p in PAGES if p.path == wanted), None)
