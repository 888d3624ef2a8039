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


def user_rows(users) -> list[dict]:
    return [{"username": u.username, "roles": ", ".join(u.roles), "active": "yes" if u.active else "no"}
            for u in users]


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
        return user_rows(accounts), names, roles, roles

    buttons = (page.CREATE, page.GRANT, page.REVOKE, page.SET_PASSWORD, page.DISABLE, page.ENABLE)

    def describe(*values):
        new_name, selected = values[6], values[9]
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
        new_name, new_password, new_roles, selected, role, password, version = values[6:]
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
                users.set_password(selected, password or "")
                notify("Password set", f"New password for {selected}", "success")
                return no_update, no_update, ""
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
