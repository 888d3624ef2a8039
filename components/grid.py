"""AG Grid defaults shared by every table: stable row ids, compact, no HTML renderers for drunc strings."""

from __future__ import annotations

import dash_ag_grid as dag


def data_grid(grid_id: str, column_defs: list[dict], row_id: str, height: str = "60vh", **kwargs) -> dag.AgGrid:
    options = {
        "animateRows": False,
        "enableCellTextSelection": True,
        "ensureDomOrder": True,
        "suppressFieldDotNotation": True,
    }
    options.update(kwargs.pop("dashGridOptions", {}))
    return dag.AgGrid(
        id=grid_id,
        columnDefs=column_defs,
        rowData=[],
        getRowId=f"params.data.{row_id}",  # the value must be a string: AG Grid warns otherwise
        defaultColDef={"sortable": True, "resizable": True, "filter": True, "minWidth": 80},
        dashGridOptions=options,
        columnSize="responsiveSizeToFit",
        style={"height": height, "width": "100%"},
        **kwargs,
    )
