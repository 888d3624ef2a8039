"""The Dash class of the app: Dash itself, minus the scripts of components the app never renders.

Dash writes a <script> for dash_table's bundle into every page, used or not. The app's tables are AG Grid
(DataTable is deprecated since Dash 3.3), so that request is dropped from the index. A page that starts
using DataTable must remove its name from UNUSED_BUNDLES.
"""

from __future__ import annotations

import re

from dash import Dash

UNUSED_BUNDLES = ("dash_table",)
_BUNDLES = "|".join(UNUSED_BUNDLES)
_UNUSED = re.compile(rf'<script src="[^"]*/_dash-component-suites/dash/(?:{_BUNDLES})/[^"]*"></script>\n?')


class RunControlDash(Dash):
    def interpolate_index(self, **kwargs):
        kwargs["scripts"] = _UNUSED.sub("", kwargs.get("scripts", ""))
        return super().interpolate_index(**kwargs)
