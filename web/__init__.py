"""Plain Flask routes and handlers around the Dash app: health, error pages."""
