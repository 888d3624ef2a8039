"""Pure view-model functions: drunc and store data in, plain rows and texts out. No Dash, no I/O."""
