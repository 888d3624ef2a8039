"""The permission catalog and the default roles built from it.

Names are dotted: the part before the dot is the page or subsystem, so the audit page can filter by family.
"""

PERMISSIONS: dict[str, str] = {
    "view": "See every page, live tables, messages and the audit trail",
    "process.modify": "Restart, kill and flush processes",
    "process.boot": "Boot processes",
    "process.terminate": "Terminate everything a process manager runs",
    "process.logs": "Read process logs",
    "controller.command": "Run FSM transitions and sequences, include and exclude nodes",
    "controller.take_control": "Take and surrender control of a controller",
    "controller.expert": "Expert controller actions of druncschema 0.11: recompute_status, execute_expert_command",
    "session.manage": "Boot, take control of and terminate sessions; start and stop them through the session manager",
    "messages.manage": "Acknowledge, clear and export stored messages",
    "users.admin": "Create users, set passwords, grant and revoke roles",
}

_SHIFTER = ("view", "process.logs", "process.modify", "controller.command", "controller.take_control")
_EXPERT = _SHIFTER + ("process.boot", "process.terminate", "session.manage", "messages.manage")

DEFAULT_ROLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "viewer": ("Watches: every page, read only", ("view",)),
    "shifter": ("Runs the shift: process actions, logs, FSM commands and control", _SHIFTER),
    "expert": ("Everything a shifter does, plus boot, terminate, sessions and messages", _EXPERT),
    "admin": ("Everything, including user management", tuple(PERMISSIONS)),
}

DEMO_USERS: dict[str, str] = {"admin": "admin", "shifter": "shifter", "viewer": "viewer"}
