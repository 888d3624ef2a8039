"""Where the drunc servers are, and clients for them on behalf of one web user.

Callbacks ask for a client per call (`backends.process_manager(user)`): clients are cheap (the channel is
shared per address and process), and the token then always carries the logged-in web user's name.

Controllers are found the way a real deployment finds them: through the connectivity service (`csc_url`),
by session name, root and children with one query, resolved again at a modest period and at once after a
controller was unreachable. `controller_url` and `controller_addresses` override it for set-ups without one.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from drunc_client.connectivity import (
    RESOLVE_PERIOD,
    ROOT_CONTROLLER,
    ConnectivityClient,
    ControllerResolver,
)
from drunc_client.errors import DruncError, NotRegistered
from drunc_client.layouts import V011, V08, LayoutCache, check_schema

HEALTH_TIMEOUT = 1.0
HEALTH_USER = "runcontrol-health"


@dataclass(frozen=True)
class ControllerLocation:
    """Where a session's controllers are. `root` is None when the root is not registered in the connectivity
    service: a state to show ("not registered in the connectivity service"), not an error."""

    session: str
    root: str | None
    children: Mapping[str, str]
    source: str  # "CONTROLLER_URL" or the connectivity service's URL

    @property
    def registered(self) -> bool:
        return self.root is not None

    @property
    def message(self) -> str:
        if self.root is not None:
            return f"root controller of session {self.session!r} at {self.root} (from {self.source})"
        return f"session {self.session!r}: {ROOT_CONTROLLER} is not registered in the connectivity service"


@dataclass(frozen=True)
class DruncBackends:
    process_manager_url: str
    controller_url: str
    session_manager_url: str
    timeout: float = 5.0
    fsm_timeout: float = 120.0
    controller_addresses: Mapping[str, str] = field(default_factory=dict)
    csc_url: str = ""  # the connectivity service; "" = not used
    csc_session: str = "local-1x1-config"
    resolve_period: float = RESOLVE_PERIOD
    schema: str = "auto"  # DRUNC_SCHEMA: "auto" (detected per endpoint), "0.8" or "0.11"
    # per object (so per process): the layout detected per endpoint, shared by every client made here
    layouts: LayoutCache = field(default_factory=LayoutCache, compare=False, repr=False)
    # per object (so per process), never module state: built from csc_url
    resolver: ControllerResolver | None = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "schema", check_schema(self.schema))
        if self.csc_url and self.resolver is None:
            object.__setattr__(self, "resolver",
                               ControllerResolver(ConnectivityClient(self.csc_url), self.resolve_period))

    @property
    def schema_forced(self) -> bool:
        """DRUNC_SCHEMA names a layout (the pages say "forced"), instead of detecting it per endpoint."""
        return self.schema in (V08, V011)

    def process_manager(self, user_name: str, timeout: float | None = None):
        from drunc_client.process_manager import ProcessManagerClient

        return ProcessManagerClient(self.process_manager_url, user_name, timeout=timeout or self.timeout,
                                    schema=self.schema, layouts=self.layouts)

    # -- controllers ------------------------------------------------------------------------------------------

    def _static(self, session: str | None) -> bool:
        """CONTROLLER_URL answers for the configured session; any other session needs the connectivity service."""
        return bool(self.controller_url) and (self.resolver is None or session in (None, self.csc_session))

    def locate(self, session: str | None = None, *, fresh: bool = False) -> ControllerLocation:
        """Where `session`'s controllers are (default: the configured session). Raises BackendUnavailable when
        the connectivity service does not answer, DruncError when no way of finding controllers is set."""
        name = session or self.csc_session
        if self._static(session):
            return ControllerLocation(name, self.controller_url, dict(self.controller_addresses), "CONTROLLER_URL")
        if self.resolver is None:
            raise DruncError("no controller configured: set CSC_URL (connectivity service) or CONTROLLER_URL")
        found = self.resolver.resolve(name, fresh=fresh)
        # an explicit address list still wins over what the service says
        return ControllerLocation(name, found.root, {**found.children, **self.controller_addresses}, found.service)

    def controller(self, user_name: str, address: str | None = None, timeout: float | None = None,
                   session: str | None = None):
        """A client of the session's root controller (or of `address`, with the session's children known for
        the tree walk). Raises NotRegistered when the root is not in the connectivity service."""
        from drunc_client.controller import ControllerClient

        if address is not None:
            children = dict(self.controller_addresses)
            if self.resolver is not None:
                try:
                    children = dict(self.locate(session).children)
                except DruncError:
                    pass  # the address was given: walk what can be walked
            location = ControllerLocation(session or self.csc_session, address, children, "address")
        else:
            location = self.locate(session)
        root = location.root
        if root is None:
            raise NotRegistered(location.session, ROOT_CONTROLLER, location.source)
        forget = None
        if self.resolver is not None and location.source not in ("CONTROLLER_URL", "address"):
            resolver, name = self.resolver, location.session

            def forget():
                resolver.forget(name)

        return ControllerClient(root, user_name, timeout=timeout or self.timeout, fsm_timeout=self.fsm_timeout,
                                child_addresses=dict(location.children), on_unreachable=forget,
                                schema=self.schema, layouts=self.layouts)

    def session_manager(self, user_name: str, timeout: float | None = None):
        from drunc_client.session_manager import SessionManagerClient

        return SessionManagerClient(self.session_manager_url, user_name, timeout=timeout or self.timeout,
                                    schema=self.schema, layouts=self.layouts)

    # -- health -----------------------------------------------------------------------------------------------

    def health(self) -> dict[str, dict]:
        """describe() on each configured server, in parallel, with a short deadline; the connectivity service's
        lookup of the configured session when it is set."""
        probes = {}
        if self.process_manager_url:
            probes["process_manager"] = lambda: self._probe(self.process_manager_url, self.process_manager)
        if self.session_manager_url:
            probes["session_manager"] = lambda: self._probe(self.session_manager_url, self.session_manager)
        if self.resolver is not None:
            probes["connectivity"] = self._probe_connectivity
        if self.controller_url or self.resolver is not None:
            probes["controller"] = self._probe_controller
        if not probes:
            return {}
        with ThreadPoolExecutor(max_workers=len(probes)) as pool:
            futures = {name: pool.submit(probe) for name, probe in probes.items()}
            return {name: future.result() for name, future in futures.items()}

    @staticmethod
    def _probe(address: str, make) -> dict:
        client = None
        try:
            client = make(HEALTH_USER, timeout=HEALTH_TIMEOUT)
            client.describe()
            return {"status": "ok", "address": address, **_layout_of(client)}
        except DruncError as exc:
            return {"status": "down", "address": address, "error": str(exc), **_layout_of(client)}

    def _probe_connectivity(self) -> dict:
        client = ConnectivityClient(self.csc_url)
        try:
            found = client.controllers(self.csc_session)
        except DruncError as exc:
            return {"status": "down", "address": client.url, "error": str(exc)}
        return {"status": "ok", "address": client.url, "session": self.csc_session,
                "controllers": len(found.controllers)}

    def _probe_controller(self) -> dict:
        try:
            location = self.locate(fresh=True)
        except DruncError as exc:
            return {"status": "down", "address": self.csc_url, "error": str(exc)}
        if location.root is None:
            return {"status": "not_registered", "session": location.session, "error": location.message}
        return {**self._probe(location.root, lambda user, timeout: self.controller(
            user, timeout=timeout)), "session": location.session}


def _layout_of(client) -> dict:
    """{"schema": "0.8" | "0.11"} for a client whose layout is known (forced, or detected already)."""
    # on the class: hasattr on the instance would evaluate the property, and its detection may raise
    if client is None or not hasattr(type(client), "layout"):
        return {}
    try:
        return {"schema": client.layout}
    except DruncError:
        return {}
