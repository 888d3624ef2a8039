"""Who may do what: login and logout, the request guard, CSRF, permissions and the audited action mechanism."""
