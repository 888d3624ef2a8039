"""DRUNC_SCHEMA: which druncschema layout to speak (auto-detected per endpoint by default)."""

from __future__ import annotations

import pytest

from settings import SettingsError, from_env

BASE = {"SECRET_KEY": "x" * 32}


def test_default_is_auto():
    assert from_env(BASE).drunc_schema == "auto"


@pytest.mark.parametrize("raw,value", [("0.8", "0.8"), (" 0.11 ", "0.11"), ("AUTO", "auto")])
def test_accepted_values(raw, value):
    assert from_env({**BASE, "DRUNC_SCHEMA": raw}).drunc_schema == value


def test_bad_value_is_one_line():
    with pytest.raises(SettingsError, match="DRUNC_SCHEMA must be auto, 0.8 or 0.11, got '1.0'"):
        from_env({**BASE, "DRUNC_SCHEMA": "1.0"})
