"""Stub."""


def register(app, services) -> None:
    pass
