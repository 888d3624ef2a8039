"""The live controller tree: an AG Grid with an indented, collapsible name column (tree data is AG Grid
Enterprise), state badges, and the counts line. Rows come from viewmodels.controller_tree.grid_row.

The renderers and the collapse filter live in assets/ui/controller_tree.js; drunc strings are React text there.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from components.grid import data_grid

GRID = "ctl-tree-grid"
GRID_WRAP = "ctl-tree-wrap"
COUNT = "ctl-tree-count"
EXPAND_ALL = "ctl-tree-expand"
COLLAPSE_ALL = "ctl-tree-collapse"


def columns() -> list[dict]:
    fixed = {"sortable": False, "filter": False}
    return [
        # the name column gets the room: at 1,400 px an application's name ("segment-controller-0-app-1", two
        # levels in) was cut to "segment-controller-0-app-…", and app-0 and app-1 read the same
        {"field": "name", "headerName": "Node", "minWidth": 340, "flex": 5, "cellRenderer": "RcCtlName",
         "tooltipField": "path", **fixed},
        {"field": "state", "headerName": "State", "minWidth": 150, "flex": 2, "cellRenderer": "RcCtlState",
         **fixed},
        {"field": "host", "headerName": "Host", "minWidth": 90, "flex": 1, "tooltipField": "host", **fixed},
        {"field": "in_charge", "headerName": "In charge", "minWidth": 90, "flex": 1, "tooltipField": "in_charge",
         **fixed},
        {"field": "error", "headerName": "Problem", "minWidth": 90, "flex": 1, "tooltipField": "error", **fixed},
        # drunc's order, depth first: the tree reads top-down whatever the updates
        {"field": "order", "hide": True, "sort": "asc", "sortable": True},
    ]


def tree_grid() -> html.Div:
    grid = data_grid(
        GRID,
        columns(),
        row_id="path",
        height="56vh",
        dashGridOptions={
            "tooltipShowDelay": 400,
            "rowHeight": 30,
            # collapsed controllers hide their subtree in the browser: no server round trip
            "isExternalFilterPresent": {"function": "rcCtlFilterPresent()"},
            "doesExternalFilterPass": {"function": "rcCtlFilterPass(params)"},
        },
        rowClassRules={
            "rc-ctl-error": "params.data.in_error",
            "rc-ctl-excluded": "params.data.excluded",
        },
    )
    return html.Div(grid, id=GRID_WRAP, className="rc-grid-wrap")


def tree_panel(view):
    return dbc.Card(
        [
            dbc.CardHeader(
                html.Div(
                    [
                        html.Strong("Tree", className="me-3"),
                        html.Span(id=COUNT, className="small me-auto"),
                        dbc.Button("Expand all", id=EXPAND_ALL, color="link", size="sm", class_name="py-0"),
                        dbc.Button("Collapse all", id=COLLAPSE_ALL, color="link", size="sm", class_name="py-0"),
                    ],
                    className="d-flex align-items-center",
                )
            ),
            dbc.CardBody(tree_grid(), class_name="p-0"),
        ],
        id="ctl-tree-panel",
    )
