"""Ids the Controller page's parts share. Each part (tree, run banner, FSM, control) has its own module with its
own ids; these are the ones several parts read.

    SESSION   dcc.Store: the session shown (a name), set from the URL and the session picker
    PERMS     dcc.Store: {"command": bool, "take_control": bool} for the logged-in user (mirrors the server's
              checks, which stay the real ones)
    CHANGED   dcc.Store: bumped by any action on the page (a transition, take control...), so every part refreshes
              at once instead of at its next tick
"""

SESSION = "ctl-session"
PERMS = "ctl-perms"
CHANGED = "ctl-changed"
# dcc.Store (in the FSM panel), written by its tick: {"held": bool, "text": "transition in progress: start, by alice
# since 14:02:11 UTC"} while a transition runs on the session's root, so every part disables its command buttons
# with that text
LOCK = "ctl-lock"
