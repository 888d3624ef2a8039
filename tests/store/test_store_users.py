"""UserRepository: the permission catalog, accounts, passwords, roles and the permissions they give."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from auth.permissions import DEFAULT_ROLES, PERMISSIONS
from store import InvalidInput, UnknownRole, UnknownUser, UserExists, UserInfo
from store.models import Permission, Role, User, role_permissions
from store.users import MAX_PASSWORD, MIN_PASSWORD, validate_password, validate_username

# The documented rule, written out here rather than imported, so the test checks the code against the spec.
VALID_NAME = r"[A-Za-z0-9][A-Za-z0-9_.\-@]{0,63}"


def _perms(*roles: str) -> frozenset[str]:
    return frozenset(p for role in roles for p in DEFAULT_ROLES[role][1])


def _link_count(db) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(role_permissions))


# -- catalog ---------------------------------------------------------------------------------------------


def test_catalog_holds_the_permissions_and_default_roles(users):
    assert users.list_permissions() == sorted(PERMISSIONS.items())
    roles = users.list_roles()
    assert [r.name for r in roles] == sorted(DEFAULT_ROLES)
    for role in roles:
        description, perms = DEFAULT_ROLES[role.name]
        assert role.description == description
        assert role.permissions == tuple(sorted(perms))


def test_ensure_catalog_is_idempotent(users, db):
    permissions, roles, links = users.list_permissions(), users.list_roles(), _link_count(db)
    users.ensure_catalog(PERMISSIONS, DEFAULT_ROLES)
    users.ensure_catalog(PERMISSIONS, DEFAULT_ROLES)
    assert users.list_permissions() == permissions
    assert users.list_roles() == roles
    assert _link_count(db) == links


def test_ensure_catalog_never_removes_an_admins_grants(users, db):
    users.create_user("alice", "password", ["viewer"])
    # What an administrator may have done by hand: an extra permission on a default role, a role of their own.
    with db.session() as s:
        viewer = s.scalar(select(Role).where(Role.name == "viewer"))
        logs = s.scalar(select(Permission).where(Permission.name == "process.logs"))
        viewer.permissions.append(logs)
        s.add(Role(name="operator", description="site role", permissions=[logs]))
    users.grant("alice", "operator")

    users.ensure_catalog(PERMISSIONS, DEFAULT_ROLES)

    roles = {r.name: r for r in users.list_roles()}
    assert roles["viewer"].permissions == ("process.logs", "view")
    assert roles["operator"].permissions == ("process.logs",)
    assert users.get("alice").roles == ("operator", "viewer")
    assert users.get("alice").permissions == {"view", "process.logs"}


def test_ensure_catalog_adds_what_a_new_release_brings(users):
    permissions = {**PERMISSIONS, "view": "A new description", "runs.export": "Export run records"}
    roles = {**DEFAULT_ROLES, "viewer": (DEFAULT_ROLES["viewer"][0], ("view", "runs.export")), "auditor": ("", ())}

    users.ensure_catalog(permissions, roles)

    assert dict(users.list_permissions()) == permissions
    listed = {r.name: r for r in users.list_roles()}
    assert listed["viewer"].permissions == ("runs.export", "view")
    assert listed["auditor"].permissions == ()
    assert listed["admin"].permissions == tuple(sorted(PERMISSIONS))  # untouched: admin's list did not change


# -- accounts and passwords ------------------------------------------------------------------------------


def test_create_user_returns_its_roles_and_permissions(users, db):
    info = users.create_user("alice", "s3cret-pass", ["shifter"])
    assert isinstance(info, UserInfo)
    assert (info.username, info.active, info.roles) == ("alice", True, ("shifter",))
    assert info.permissions == _perms("shifter")
    assert users.get("alice") == info
    assert users.get_by_id(info.id) == info
    with db.session() as s:
        stored = s.scalar(select(User.password_hash).where(User.username == "alice"))
    assert "s3cret-pass" not in stored


def test_create_user_without_roles_has_no_permissions(users):
    info = users.create_user("bob", "password")
    assert info.roles == ()
    assert info.permissions == frozenset()


def test_verify(users):
    created = users.create_user("alice", "right-password", ["viewer"])
    assert users.verify("alice", "right-password") == created
    assert users.verify("  alice ", "right-password") == created  # the login form's stray spaces
    assert users.verify("alice", "wrong-password") is None
    assert users.verify("alice", "Right-password") is None
    assert users.verify("alice", "") is None
    assert users.verify("alice", None) is None
    assert users.verify("nobody", "right-password") is None
    assert users.verify("", "right-password") is None
    assert users.verify(None, "right-password") is None


def test_disabled_user_cannot_log_in_until_enabled(users):
    users.create_user("alice", "password", ["viewer"])
    users.set_active("alice", False)
    assert users.verify("alice", "password") is None
    assert users.get("alice").active is False
    users.set_active("alice", True)
    assert users.verify("alice", "password").active is True


def test_duplicate_username_is_refused(users):
    users.create_user("alice", "password", ["viewer"])
    with pytest.raises(UserExists, match="'alice' already exists"):
        users.create_user("alice", "another-password", ["admin"])
    with pytest.raises(UserExists):
        users.create_user("  alice  ", "another-password")
    assert issubclass(UserExists, InvalidInput)
    # The first account is untouched.
    assert users.verify("alice", "password").roles == ("viewer",)
    assert [u.username for u in users.list_users()] == ["alice"]


# One database per backend for each list of cases: a fresh PostgreSQL database per case would cost far more.
INVALID_NAMES = ["", "   ", None, "-alice", ".alice", "_alice", "@cern", "al ice", "al/ice", "al:ice", "alicé", "ä",
                 "a\nb", "a\x00b", "x" * 65]  # fmt: skip
VALID_NAMES = ["a", "7", "Alice", "j.doe@cern.ch", "dune-shifter_2", "x" * 64]
INVALID_PASSWORDS = [
    (None, f"at least {MIN_PASSWORD} characters"),
    ("", f"at least {MIN_PASSWORD} characters"),
    ("x" * (MIN_PASSWORD - 1), f"at least {MIN_PASSWORD} characters"),
    ("x" * (MAX_PASSWORD + 1), f"at most {MAX_PASSWORD} characters"),
]


def test_invalid_usernames_are_refused(users):
    for name in INVALID_NAMES:
        with pytest.raises(InvalidInput, match="user names are 1 to 64 characters"):
            users.create_user(name, "password")
    assert users.list_users() == []


def test_valid_usernames_are_kept_as_given(users):
    for name in VALID_NAMES:
        assert users.create_user(name, "password").username == name
        assert users.verify(name, "password") is not None, name
    assert sorted(u.username for u in users.list_users()) == sorted(VALID_NAMES)


def test_usernames_are_stripped(users):
    assert users.create_user("  alice\t", "password").username == "alice"
    assert users.get("alice") is not None


def test_invalid_passwords_are_refused(users):
    for password, message in INVALID_PASSWORDS:
        with pytest.raises(InvalidInput, match=message):
            users.create_user("alice", password)
    assert users.get("alice") is None
    users.create_user("alice", "password")
    for password, message in INVALID_PASSWORDS:
        with pytest.raises(InvalidInput, match=message):
            users.set_password("alice", password)
    assert users.verify("alice", "password") is not None


def test_password_limits_are_inclusive(users):
    for i, password in enumerate(["x" * MIN_PASSWORD, "y" * MAX_PASSWORD, "pass word ünïcode ✓"]):
        users.create_user(f"user{i}", password)
        assert users.verify(f"user{i}", password) is not None, password


@hypothesis_settings(database=None, max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(),
        st.from_regex(VALID_NAME, fullmatch=True),
        st.builds(lambda pad, name: pad + name + pad, st.sampled_from([" ", "\t", "\n"]), st.from_regex(VALID_NAME)),
    )
)
@example("a\n")
@example("a\nb")
@example("\u0661")  # ARABIC-INDIC DIGIT ONE: a digit to str.isdigit, not to the rule
def test_validate_username_accepts_exactly_the_documented_names(raw):
    try:
        name = validate_username(raw)
    except InvalidInput as exc:
        assert "user names are 1 to 64 characters" in str(exc)
        assert not re.fullmatch(VALID_NAME, raw.strip())
    else:
        assert name == raw.strip()
        assert re.fullmatch(VALID_NAME, name)


@hypothesis_settings(database=None, max_examples=100, deadline=None)
@given(st.text(max_size=MAX_PASSWORD + 10))
def test_validate_password_only_checks_length(password):
    if MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        assert validate_password(password) == password
    else:
        with pytest.raises(InvalidInput):
            validate_password(password)


def test_set_password(users):
    users.create_user("alice", "old-password", ["viewer"])
    users.set_password("alice", "new-password")
    assert users.verify("alice", "old-password") is None
    assert users.verify("alice", "new-password") is not None
    users.set_password(" alice ", "newer-password")
    assert users.verify("alice", "newer-password") is not None


def test_changes_to_an_unknown_user_are_refused(users):
    with pytest.raises(UnknownUser, match="no user named 'ghost'"):
        users.set_password("ghost", "password")
    with pytest.raises(UnknownUser):
        users.set_active("ghost", False)
    with pytest.raises(UnknownUser):
        users.grant("ghost", "viewer")
    with pytest.raises(UnknownUser):
        users.revoke("ghost", "viewer")
    assert users.get("ghost") is None
    assert users.get_by_id(12345) is None


# -- roles and permissions -------------------------------------------------------------------------------


def test_unknown_role_names_the_known_roles(users):
    with pytest.raises(UnknownRole, match=r"no role named 'wizard' \(roles: admin, expert, shifter, viewer\)"):
        users.create_user("alice", "password", ["viewer", "wizard"])
    assert users.get("alice") is None  # nothing half-made
    users.create_user("alice", "password", ["viewer"])
    with pytest.raises(UnknownRole, match="admin, expert, shifter, viewer"):
        users.grant("alice", "wizard")
    with pytest.raises(UnknownRole):
        users.revoke("alice", "wizard")
    assert users.get("alice").roles == ("viewer",)


def test_grant_and_revoke_are_idempotent(users):
    users.create_user("alice", "password", ["viewer"])
    first = users.grant("alice", "shifter")
    assert users.grant("alice", "shifter") == first
    assert users.grant(" alice ", " shifter ") == first
    assert first.roles == ("shifter", "viewer")

    after = users.revoke("alice", "shifter")
    assert users.revoke("alice", "shifter") == after
    assert after.roles == ("viewer",)
    assert users.revoke("alice", "admin").roles == ("viewer",)  # never held: nothing to do
    assert users.get("alice") == after


def test_permissions_are_the_union_of_the_roles(users):
    users.create_user("alice", "password", ["viewer"])
    assert users.get("alice").permissions == _perms("viewer")
    assert users.grant("alice", "expert").permissions == _perms("viewer", "expert")
    assert users.grant("alice", "admin").permissions == frozenset(PERMISSIONS)
    assert users.revoke("alice", "admin").permissions == _perms("viewer", "expert")
    assert users.revoke("alice", "expert").permissions == _perms("viewer")
    assert users.revoke("alice", "viewer").permissions == frozenset()
    assert users.verify("alice", "password").permissions == frozenset()


def test_role_changes_reach_every_holder(users, db):
    users.create_user("alice", "password", ["viewer"])
    users.create_user("bob", "password", ["viewer"])
    with db.session() as s:
        viewer = s.scalar(select(Role).where(Role.name == "viewer"))
        viewer.permissions.append(s.scalar(select(Permission).where(Permission.name == "process.logs")))
    assert users.get("alice").permissions == {"view", "process.logs"}
    assert users.get("bob").permissions == {"view", "process.logs"}


def test_list_users_is_ordered_by_name(users):
    for name in ("carol", "alice", "dave", "bob"):
        users.create_user(name, "password")
    users.set_active("dave", False)
    listed = users.list_users()
    assert [u.username for u in listed] == ["alice", "bob", "carol", "dave"]
    assert [u.active for u in listed] == [True, True, True, False]


def test_count_with_permission(users):
    assert users.count_with_permission("users.admin") == 0
    users.create_user("root", "password", ["admin"])
    users.create_user("alice", "password", ["expert"])
    users.create_user("bob", "password", ["viewer", "shifter"])
    users.create_user("carol", "password")

    assert users.count_with_permission("users.admin") == 1
    assert users.count_with_permission("view") == 3
    assert users.count_with_permission("process.boot") == 2
    assert users.count_with_permission("no.such.permission") == 0

    users.set_active("alice", False)  # disabled accounts do not count
    assert users.count_with_permission("process.boot") == 1
    users.grant("carol", "admin")
    assert users.count_with_permission("users.admin") == 2
    users.revoke("root", "admin")
    assert users.count_with_permission("users.admin") == 1


def test_names_with_nul_are_unknown_not_errors(users):
    """PostgreSQL refuses NUL in text; a login form can send one, and it must fail like any unknown name."""
    users.create_user("alice", "password", ["viewer"])
    assert users.verify("alice\x00", "password") is None
    assert users.get("alice\x00") is None
    with pytest.raises(UnknownUser):
        users.set_active("al\x00ice", False)
    with pytest.raises(UnknownRole):
        users.grant("alice", "viewer\x00")
    assert users.verify("alice", "password") is not None
