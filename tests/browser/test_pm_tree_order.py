"""The process table's tree order and indentation, computed in the browser (assets/ui/process_tree.js)."""

from __future__ import annotations

import pytest
from helpers import browser_login

from components import process_table as ids

pytestmark = pytest.mark.browser


def test_tree_ids_sort_numerically_within_a_session_and_indent_by_level(live):
    browser_login(live, "viewer", next_path="/process-manager")
    live.wait_for_element(f"#{ids.GRID}")
    ids_in = ["1.2.10", "1.0.0", "1.2.9", "1.0.3", "1.2.0", "1.10.0", "weird", ""]
    ordered, depths, sessions = live.driver.execute_script(
        """
        const f = window.dashAgGridFunctions, ids = arguments[0];
        const key = (session, tree) => f.rcTreeKey({session: session, tree_id: tree});
        const ordered = ids.slice().sort((a, b) => key('s', a) < key('s', b) ? -1 : 1);
        const depths = ['1.0.0', '1.0.3', '1.2.0', '1.2.3', 'weird', ''].map(t => f.rcTreeDepth({tree_id: t}));
        return [ordered, depths, key('a', '9.9.9') < key('b', '1.0.0')];
        """,
        ids_in,
    )
    assert ordered == ["1.0.0", "1.0.3", "1.2.0", "1.2.9", "1.2.10", "1.10.0", "", "weird"]
    assert depths == [0, 1, 1, 2, 0, 0]
    assert sessions, "the session comes first"
    assert live.get_logs() == []
