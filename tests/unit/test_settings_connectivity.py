"""CSC_URL and CSC_SESSION: drunc_ui's names for the connectivity service and the session to show."""

from __future__ import annotations

import pytest

from settings import SettingsError, from_env

BASE = {"SECRET_KEY": "x" * 32}


def test_defaults_leave_the_connectivity_service_unused():
    s = from_env(BASE)
    assert (s.csc_url, s.csc_session) == ("", "local-1x1-config")


@pytest.mark.parametrize("raw,url", [("drunc_pm:5000", "http://drunc_pm:5000"),
                                     ("http://10.0.0.1:5000/", "http://10.0.0.1:5000"),
                                     ("https://csc.example.org:443", "https://csc.example.org:443")])
def test_csc_url_is_kept_as_a_base_url(raw, url):
    assert from_env({**BASE, "CSC_URL": raw, "CSC_SESSION": " np04-run "}).csc_url == url
    assert from_env({**BASE, "CSC_SESSION": " np04-run "}).csc_session == "np04-run"


@pytest.mark.parametrize("name,value,message", [
    ("CSC_URL", "no port", "CSC_URL must look like host:port"),
    ("CSC_URL", "ftp://h:1", "CSC_URL must look like host:port"),
    ("CSC_SESSION", "a/b", "CSC_SESSION must be a drunc session name"),
    ("CSC_SESSION", "two words", "CSC_SESSION must be a drunc session name"),
])
def test_bad_values_are_one_line_errors(name, value, message):
    with pytest.raises(SettingsError, match=message) as caught:
        from_env({**BASE, name: value})
    assert len(str(caught.value).splitlines()) == 1
