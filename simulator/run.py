"""Start and stop a whole simulated drunc: process manager, controller tree, session manager, broadcasts."""

from __future__ import annotations

import logging
import tempfile
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from simulator.broadcast import NullBroadcaster, T

log = logging.getLogger("simulator")


@dataclass
class SimulatorConfig:
    host: str = "127.0.0.1"
    pm_port: int = 0
    controller_port: int = 0
    session_manager_port: int = 0
    kafka: str | None = None  # bootstrap address, or None for no broadcasts
    processes: int = 0
    virtual: bool = False
    churn: float = 0.0
    segments: int = 2
    apps: int = 2
    seed: int | None = None
    session: str = "demo-session"
    transition_seconds: float = 0.0
    log_dir: Path | None = None
    ers_period: float = 0.0  # seconds between simulated ERS issues; 0 = none
    # a look-alike connectivity service on this port (0 = any free port; None = none), where every controller
    # publishes itself as drunc's do; entries expire after connectivity_ttl seconds without a publish
    connectivity_port: int | None = None
    connectivity_ttl: float = 10.0
    # druncschema layout served by the process manager, the controllers and the session manager: "0.8"
    # (drunc 0.10.x) or "0.11" (drunc 0.13.2); bugs: reproduce the drunc bugs of that release (0.8: the
    # invalid-transition AttributeError; 0.11: drunc-protocol-0.11.md section 9)
    schema: str = "0.8"
    bugs: bool = False


@dataclass
class Simulator:
    config: SimulatorConfig
    addresses: dict[str, str] = field(default_factory=dict)
    controller_addresses: dict[str, str] = field(default_factory=dict)
    servers: list = field(default_factory=list)
    closers: list = field(default_factory=list)
    process_manager: object = None
    root: object = None
    session_manager: object = None
    connectivity: object = None  # the ConnectivityServer, when configured
    ers: object = None  # the ErsPublisher of the applications and the ERS generator, when there is Kafka

    def stop_controller(self, name: str) -> None:
        """Stop one controller's gRPC server, as when its process dies (see ControllerNode.stop_serving)."""
        node = self.root.find(name)
        server = node.server
        node.stop_serving()
        self.servers = [s for s in self.servers if s is not server]

    def restart_controller(self, name: str) -> None:
        """Serve a stopped controller again on its old address, as when its process is started again."""
        server = self.root.find(name).serve_again()
        if server not in self.servers:
            self.servers.append(server)

    def stop(self, grace: float = 1.0) -> None:
        for server in self.servers:
            server.stop(grace)
        for close in reversed(self.closers):
            try:
                close()
            except Exception:  # noqa: BLE001 - stopping must reach every part
                log.warning("error while stopping the simulator", exc_info=True)


def _server(workers: int = 16) -> grpc.Server:
    return grpc.server(futures.ThreadPoolExecutor(max_workers=workers))


def _bind(server: grpc.Server, host: str, port: int) -> str:
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"cannot listen on {host}:{port}")
    return f"{host}:{bound}"


def start_simulator(config: SimulatorConfig) -> Simulator:
    from simulator.controller import build_tree, serve_tree
    from simulator.process_manager import ProcessManagerServicer
    from simulator.session_manager import SessionManagerServicer

    sim = Simulator(config)
    try:
        ers = None
        if config.kafka:
            from simulator.kafka import ErsPublisher, KafkaBroadcaster

            broadcaster = KafkaBroadcaster(config.kafka)
            ers = sim.ers = ErsPublisher(config.kafka)
            sim.closers.append(ers.close)
        else:
            broadcaster = NullBroadcaster()
        sim.closers.append(broadcaster.close)

        if config.schema not in ("0.8", "0.11"):
            raise ValueError(f"schema must be 0.8 or 0.11, not {config.schema!r}")
        v011 = config.schema == "0.11"
        log_dir = config.log_dir or Path(tempfile.mkdtemp(prefix="drunc-sim-logs-"))
        pm_class = ProcessManagerServicer
        if v011:
            from simulator.process_manager_011 import ProcessManager011Servicer as pm_class
        pm = pm_class(broadcaster=broadcaster, log_dir=log_dir, virtual=config.virtual, churn=config.churn,
                      seed=config.seed)
        sim.process_manager = pm
        sim.closers.append(pm.close)
        pm_server = _server(32)
        pm.add_to_server(pm_server)
        sim.addresses["process_manager"] = _bind(pm_server, config.host, config.pm_port)
        pm_server.start()
        sim.servers.append(pm_server)

        connectivity = None
        if config.connectivity_port is not None:
            from simulator.connectivity import ConnectivityServer

            service = ConnectivityServer(config.host, config.connectivity_port, ttl=config.connectivity_ttl).start()
            sim.closers.append(service.stop)
            sim.connectivity = service
            connectivity = sim.addresses["connectivity"] = service.address

        root = build_tree(config.segments, config.apps, session=config.session, broadcaster=broadcaster,
                          transition_seconds=config.transition_seconds, drunc_bugs=config.bugs and not v011)
        sim.root = root
        for node in root.walk():  # the DAQ applications report injected failures over ERS (app_issues.py)
            if node.kind == "application":
                node.ers = ers
        servicers = None
        if v011:
            from simulator.controller_011 import Facade011

            facade = Facade011(root, bugs=config.bugs)
            servicers = {f.name: f for f in facade.walk() if f.is_controller}
        servers, addresses = serve_tree(root, config.host, config.controller_port, connectivity=connectivity,
                                        servicers=servicers)
        # retract before the service stops (closers run in reverse)
        sim.closers.append(lambda: [node.stop_publishing() for node in root.controllers()])
        sim.servers.extend(servers)
        sim.controller_addresses = dict(addresses)
        sim.addresses["controller"] = addresses[root.name]

        if v011:
            from simulator.session_manager_011 import SessionManager011Servicer

            sm = SessionManager011Servicer(broadcaster=broadcaster, bugs=config.bugs)
        else:
            sm = SessionManagerServicer(broadcaster=broadcaster)
        sim.session_manager = sm
        sm_server = _server(8)
        sm.add_to_server(sm_server)
        sim.addresses["session_manager"] = _bind(sm_server, config.host, config.session_manager_port)
        sm_server.start()
        sim.servers.append(sm_server)

        if config.processes:
            _boot_initial(pm, config)
        if config.kafka and config.ers_period > 0:
            from simulator.kafka import ErsGenerator

            apps = [name for name in sim.controller_addresses] or ["app"]
            generator = ErsGenerator(ers, session=config.session, applications=apps, period=config.ers_period,
                                     seed=config.seed)
            generator.start()
            sim.closers.append(generator.stop)
        for server in (pm, sm):
            broadcaster.emit(server.name, server.session, T.SERVER_READY, "ready")
        return sim
    except BaseException:
        sim.stop(0)
        raise


def _boot_initial(pm, config: SimulatorConfig) -> None:
    if config.virtual:
        pm.populate(config.processes, session=config.session)
        return
    from drunc_client.generated.druncschema import process_manager_pb2 as pmp
    from drunc_client.transport import make_request

    per_segment = max(1, config.apps)
    for i in range(config.processes):
        segment, app = divmod(i, per_segment)
        name = f"segment-controller-{segment}-app-{app}"
        script = f"while true; do echo \"{name}: heartbeat $(date +%H:%M:%S)\"; sleep 2; done"
        description = pmp.ProcessDescription(
            metadata=pmp.ProcessMetadata(user="daq", session=config.session, name=name,
                                         tree_id=f"1.{segment + 1}.{app + 1}"),
            executable_and_arguments=[pmp.ProcessDescription.ExecAndArgs(exec="bash", args=["-c", f"'{script}'"])],
            # drunc's OKS boot names logs so; without a path drunc's chain fails and the process dies at once
            process_logs_path=str(pm.log_dir / f"log_daq_{config.session}_{name}.log"),
        )
        boot = pmp.BootRequest(process_description=description,
                               process_restriction=pmp.ProcessRestriction(allowed_hosts=["localhost"]))
        pm.boot(make_request("daq", boot), None)
