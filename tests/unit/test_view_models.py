"""Pure functions behind the pages: no browser, no server."""

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auth.permissions import DEFAULT_ROLES, PERMISSIONS
from auth.views import safe_next
from callbacks.audit import BadTime, action_options, audit_rows, parse_utc
from callbacks.users import user_rows
from components.guarded import guarded_button
from pages import PAGES, find_page, nav_items
from store import AuditEntry, UserInfo


def test_parse_utc_accepts_the_documented_forms():
    assert parse_utc("2026-11-24 06:30", "From") == datetime(2026, 11, 24, 6, 30, tzinfo=UTC)
    assert parse_utc("2026-11-24", "From") == datetime(2026, 11, 24, tzinfo=UTC)
    assert parse_utc("  ", "From") is None


def test_parse_utc_names_the_field_on_bad_input():
    with pytest.raises(BadTime, match="To: “yesterday” is not a time"):
        parse_utc("yesterday", "To")


def test_audit_rows_are_strings_keyed_and_json_arguments():
    entry = AuditEntry(7, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "ann", "user.grant", "bob", {"role": "expert"},
                       "ok", "", "10.0.0.1")
    [row] = audit_rows([entry])
    assert row["id"] == "7" and row["time"] == "2026-01-02 03:04:05"
    assert row["arguments"] == '{"role": "expert"}'


def test_action_options_offer_families_first():
    options = action_options(["login", "user.create", "user.grant"])
    assert [o["value"] for o in options] == ["user", "login", "user.create", "user.grant"]


def test_user_rows():
    rows = user_rows([UserInfo(1, "ann", False, ("admin", "viewer"), frozenset())], {1: 2})
    assert rows == [{"username": "ann", "roles": "admin, viewer", "active": "no", "sessions": 2}]
    assert user_rows([UserInfo(3, "bob", True, (), frozenset())])[0]["sessions"] == 0


@pytest.mark.parametrize(
    "target,expected",
    [(None, "/"), ("/audit?user=x", "/audit?user=x"), ("//evil", "/"), ("https://evil/", "/"),
     ("/\\evil", "/"), ("audit", "/"), ("/login", "/"), ("/_dash-layout", "/")],
)
def test_safe_next(target, expected):
    assert safe_next(target) == expected


@given(st.text())
def test_safe_next_never_leaves_the_site(target):
    result = safe_next(target)
    assert result.startswith("/") and not result.startswith("//")


def test_guarded_button_is_disabled_with_the_missing_permission_named():
    span = guarded_button("b", "Go", "users.admin", frozenset({"view"}))
    button, tooltip = span.children
    assert button.disabled is True
    assert "users.admin" in tooltip.children and "users.admin" in span.title


def test_guarded_button_is_enabled_with_the_permission():
    span = guarded_button("b", "Go", "users.admin", frozenset({"users.admin"}))
    assert span.children[0].disabled is False and len(span.children) == 1


def test_page_table():
    assert [label for _, label in nav_items()] == ["Process Manager", "Controller", "Sessions", "Messages", "Audit",
                                                   "Help"]
    assert find_page("/audit/").title == "Audit"
    assert find_page("/nope") is None
    assert len({p.path for p in PAGES}) == len(PAGES)


def test_roles_use_only_known_permissions_and_admin_has_all():
    for _, perms in DEFAULT_ROLES.values():
        assert set(perms) <= set(PERMISSIONS)
    assert set(DEFAULT_ROLES["admin"][1]) == set(PERMISSIONS)
    assert set(DEFAULT_ROLES["viewer"][1]) == {"view"}
