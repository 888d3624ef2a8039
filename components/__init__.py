"""Reusable layout factories and the ids they use. No callbacks, no I/O."""
