import ctypes
import threading

import pytest
from dash.testing.application_runners import KillerThread

from app import create_app


def _kill_only_the_server(self):
    """dash[testing] stops its server by raising SystemExit in EVERY thread started after it: the app's pollers,
    the simulator's gRPC workers... A thread interrupted inside `ast.parse` (pytest rewrites dash's and
    hypothesis's modules as they are imported) leaves CPython 3.11's AST recursion counter off, and a later
    parse then fails with "AST constructor recursion depth mismatch" (python/cpython#106905), crashing pytest.
    Stop only the server thread and its request threads; the app's own threads end with `services.close()`."""
    for thread in list(threading.enumerate()):
        if thread.ident in self._old_threads or thread.ident is None:
            continue
        if thread is not self and "process_request_thread" not in thread.name:
            continue
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_long(thread.ident), ctypes.py_object(SystemExit))


KillerThread.kill = _kill_only_the_server


def _serve(dash_duo, settings, services):
    app = create_app(settings, services)
    dash_duo.start_server(app, navigate=False)
    dash_duo.wait_timeout = 20
    dash_duo.rc_app = app
    return dash_duo


@pytest.fixture
def live(dash_duo, app_settings, services):
    """The app served by dash[testing]'s threaded server, with a real browser attached (not yet logged in)."""
    return _serve(dash_duo, app_settings, services)


@pytest.fixture
def sim_live(dash_duo, sim_settings, sim_services):
    """Like `live`, with the app talking to the in-process drunc simulator (fixture `simulator`)."""
    return _serve(dash_duo, sim_settings, sim_services)
