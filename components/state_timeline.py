"""Each node's state over time (Plotly, served locally). FIRST CUT: a placeholder."""

from dash import html


def timeline_panel():
    return html.Div(id="ctl-timeline-panel")
