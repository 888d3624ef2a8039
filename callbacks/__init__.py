"""Behaviour: each module's `register(app, services)` adds its callbacks to one app. Only app.py imports these."""
