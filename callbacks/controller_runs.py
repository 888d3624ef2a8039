"""Controller page: runs behaviour. FIRST CUT: no callbacks yet."""


def register(app, services) -> None:
    return None
