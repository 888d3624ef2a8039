"""Where the drunc servers are, and clients for them on behalf of one web user.

Callbacks ask for a client per call (`backends.process_manager(user)`): clients are cheap (the channel is
shared per address and process), and the token then always carries the logged-in web user's name.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from drunc_client.errors import DruncError

HEALTH_TIMEOUT = 1.0
HEALTH_USER = "runcontrol-health"


@dataclass(frozen=True)
class DruncBackends:
    process_manager_url: str
    controller_url: str
    session_manager_url: str
    timeout: float = 5.0
    fsm_timeout: float = 120.0
    controller_addresses: Mapping[str, str] = field(default_factory=dict)

    def process_manager(self, user_name: str, timeout: float | None = None):
        from drunc_client.process_manager import ProcessManagerClient

        return ProcessManagerClient(self.process_manager_url, user_name, timeout=timeout or self.timeout)

    def controller(self, user_name: str, address: str | None = None, timeout: float | None = None):
        from drunc_client.controller import ControllerClient

        return ControllerClient(address or self.controller_url, user_name, timeout=timeout or self.timeout,
                                fsm_timeout=self.fsm_timeout, child_addresses=dict(self.controller_addresses))

    def session_manager(self, user_name: str, timeout: float | None = None):
        from drunc_client.session_manager import SessionManagerClient

        return SessionManagerClient(self.session_manager_url, user_name, timeout=timeout or self.timeout)

    def health(self) -> dict[str, dict]:
        """describe() on each configured server, in parallel, with a short deadline."""
        checks = {
            "process_manager": (self.process_manager_url, self.process_manager),
            "controller": (self.controller_url, self.controller),
            "session_manager": (self.session_manager_url, self.session_manager),
        }
        configured = {name: spec for name, spec in checks.items() if spec[0]}

        def probe(item):
            name, (address, make) = item
            client = make(HEALTH_USER, timeout=HEALTH_TIMEOUT)
            try:
                client.describe()
                return name, {"status": "ok", "address": address}
            except DruncError as exc:
                return name, {"status": "down", "address": address, "error": str(exc)}

        if not configured:
            return {}
        with ThreadPoolExecutor(max_workers=len(configured)) as pool:
            return dict(pool.map(probe, configured.items()))
