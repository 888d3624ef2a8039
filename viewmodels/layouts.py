"""How a druncschema layout reads on a page (pure)."""

from __future__ import annotations

LAYOUTS = {"0.8": "druncschema 0.8 (drunc 0.10.x)", "0.11": "druncschema 0.11 (drunc 0.13.2 / 0.14.0)"}


def layout_text(layout: str | None, forced: bool = False) -> str:
    if not layout:
        return "druncschema layout unknown"
    text = LAYOUTS.get(layout, f"druncschema {layout}")
    return text + (" · forced by DRUNC_SCHEMA" if forced else "")


def short_text(layout: str | None, forced: bool = False) -> str:
    """For a line of badges: "druncschema 0.11", "druncschema 0.8 (forced)", or "" when not known yet."""
    if not layout:
        return ""
    return f"druncschema {layout}" + (" (forced)" if forced else "")
