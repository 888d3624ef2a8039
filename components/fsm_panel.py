"""The FSM panel: diagram, transitions, sequences, their dialog and results. FIRST CUT: a placeholder."""

from dash import html


def fsm_panel(ctx):
    return html.Div(id="ctl-fsm-panel")
