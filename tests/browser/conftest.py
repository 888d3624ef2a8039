import pytest

from app import create_app


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
