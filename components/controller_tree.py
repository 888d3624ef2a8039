"""The live controller tree panel. FIRST CUT: a placeholder the tree feed work fills."""

from dash import html


def tree_panel(view):
    return html.Div(id="ctl-tree-panel")
