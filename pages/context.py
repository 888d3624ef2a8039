"""What a layout function may know about the request: who is looking and what they may do."""

from __future__ import annotations

from dataclasses import dataclass, field

from settings import Settings


@dataclass(frozen=True)
class PageContext:
    username: str
    permissions: frozenset[str] = field(default_factory=frozenset)
    roles: tuple[str, ...] = ()
    demo: bool = False
    query: str = ""  # the URL's query string ("?a=b"), for pages that keep their view state in the link
    settings: Settings = field(default_factory=Settings)  # defaults a form shows (e.g. the boot form's user)

    def can(self, permission: str) -> bool:
        return permission in self.permissions
