"""Server-side pollers shared by every tab and every worker (state lives in a diskcache, not in globals)."""
