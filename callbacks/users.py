"""Users & roles page: the roster for everyone, changes for users.admin only."""

from __future__ import annotations

from dash import Output, ctx, no_update
from flask_login import current_user

from auth.actions import UserError, guarded_callback
from auth.shapes import In, St, clicks, integer, list_of, text
from callbacks.notify import notify
from pages import admin_users as page
from store import InvalidInput
from store.users import would_lock_out

ADMIN = "users.admin"
_LAST_ADMIN = "{} is the last active administrator: give users.admin to someone else first."


def user_rows(users, sessions: dict[int, int] | None = None) -> list[dict]:
    sessions = sessions or {}
    return [{"username": u.username, "roles": ", ".join(u.roles), "active": "yes" if u.active else "no",
             "sessions": sessions.get(u.id, 0)} for u in users]


def register(app, services) -> None:
    users = services.users

    @guarded_callback(
        app,
        services.audit,
        Output(page.GRID, "rowData"),
        Output(page.SELECTED, "options"),
        Output(page.ROLE, "options"),
        Output(page.NEW_ROLES, "options"),
        In(page.CHANGED, "data", integer(0)),
    )
    def show_users(_version):
        accounts = users.list_users()
        roles = [{"label": r.name, "value": r.name} for r in users.list_roles()]
        names = [{"label": u.username, "value": u.username} for u in accounts]
        return user_rows(accounts, services.login_sessions.active_counts()), names, roles, roles

    buttons = (page.CREATE, page.GRANT, page.REVOKE, page.SET_PASSWORD, page.DISABLE, page.ENABLE,
               page.END_SESSIONS)
    states = len(buttons)  # the callback's values: one n_clicks per button, then the states below

    def describe(*values):
        new_name, selected = values[states], values[states + 3]
        which = ctx.triggered_id if ctx.triggered_id in buttons else "unknown"
        return str((new_name if which == page.CREATE else selected) or ""), {"button": which}

    @guarded_callback(
        app,
        services.audit,
        Output(page.CHANGED, "data"),
        Output(page.NEW_PASSWORD, "value"),
        Output(page.PASSWORD, "value"),
        *[In(b, "n_clicks", clicks) for b in buttons],
        St(page.NEW_NAME, "value", text(256)),
        St(page.NEW_PASSWORD, "value", text(1024)),
        St(page.NEW_ROLES, "value", list_of(text(64), 100)),
        St(page.SELECTED, "value", text(256)),
        St(page.ROLE, "value", text(64)),
        St(page.PASSWORD, "value", text(1024)),
        St(page.CHANGED, "data", integer(0)),
        permission=ADMIN,
        action="user.change",
        describe=describe,
        prevent_initial_call=True,
    )
    def change_user(note, *values):
        new_name, new_password, new_roles, selected, role, password, version = values[states:]
        which = ctx.triggered_id
        me = current_user.name
        try:
            if which == page.CREATE:
                note.action, note.target = "user.create", new_name or ""
                note.arguments = {"roles": new_roles or []}
                info = users.create_user(new_name or "", new_password or "", new_roles or [])
                notify("User created", f"{info.username} ({', '.join(info.roles) or 'no roles'})", "success")
                return (version or 0) + 1, "", no_update
            if not selected:
                raise UserError("Choose a user first.")
            note.target = selected
            if which in (page.GRANT, page.REVOKE):
                if not role:
                    raise UserError("Choose a role first.")
                note.action = "user.grant" if which == page.GRANT else "user.revoke"
                note.arguments = {"role": role}
                if which == page.REVOKE:
                    if would_lock_out(users, selected, revoke_role=role):
                        raise UserError(_LAST_ADMIN.format(selected))
                    users.revoke(selected, role)
                else:
                    users.grant(selected, role)
                notify("Role changed", f"{'Granted' if which == page.GRANT else 'Revoked'} {role} "
                       f"{'to' if which == page.GRANT else 'from'} {selected}", "success")
                return (version or 0) + 1, no_update, no_update
            if which == page.SET_PASSWORD:
                note.action = "user.set_password"  # the password itself is never written anywhere
                users.set_password(selected, password or "")  # also ends the user's sessions
                notify("Password set", f"New password for {selected}; their open sessions were ended"
                       + (" (yours too: log in again)" if selected == me else ""), "success")
                return (version or 0) + 1, no_update, ""
            if which == page.END_SESSIONS:
                note.action = "user.end_sessions"
                ended = users.end_sessions(selected)
                note.arguments = {"sessions": ended}
                notify("Sessions ended", f"{selected} is logged out everywhere ({ended} open session"
                       f"{'' if ended == 1 else 's'} ended)", "success")
                return (version or 0) + 1, no_update, no_update
            if which in (page.DISABLE, page.ENABLE):
                active = which == page.ENABLE
                note.action = "user.enable" if active else "user.disable"
                if not active and selected == me:
                    raise UserError("You cannot disable your own account.")
                if not active and would_lock_out(users, selected):
                    raise UserError(_LAST_ADMIN.format(selected))
                users.set_active(selected, active)
                state = "enabled" if active else "disabled"
                notify("Account changed", f"{selected} is now {state}", "success")
                return (version or 0) + 1, no_update, no_update
        except InvalidInput as exc:
            raise UserError(str(exc)) from None
        note.skip = True
        return no_update, no_update, no_update
