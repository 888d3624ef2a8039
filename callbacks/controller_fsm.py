"""Controller page: fsm behaviour. FIRST CUT: no callbacks yet."""


def register(app, services) -> None:
    return None
