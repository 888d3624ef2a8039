"""The SQL store: the one place that holds the SQLAlchemy models, the migrations and the queries."""

from store.audit import AuditEntry, AuditLog
from store.db import Database
from store.login_sessions import LoginSessions, SessionPolicy
from store.users import InvalidInput, RoleInfo, UnknownRole, UnknownUser, UserExists, UserInfo, UserRepository

__all__ = [
    "AuditEntry",
    "AuditLog",
    "Database",
    "InvalidInput",
    "LoginSessions",
    "RoleInfo",
    "SessionPolicy",
    "UnknownRole",
    "UnknownUser",
    "UserExists",
    "UserInfo",
    "UserRepository",
]
