"""The ERS issues a simulated DAQ application reports when it fails, as a real one does through erskafka.

A DUNE-DAQ application that goes into error, or fails a run-control command, raises an ERS issue whose chain says
why: the final issue (what the application could not do) caused by lower-level issues, each with its context
(host, application, package, file:line, function, process) and parameters. `simulator.controller` publishes
these when a test or the demo injects a failure into an application (`inject_error`, `fail_next`) and the
simulator has Kafka; the chains are built with `make_issue_chain`, like every other ERS record of the simulator.
"""

from __future__ import annotations

from drunc_client.generated.ersschema import issue_pb2
from simulator.kafka import make_issue_chain


def in_error_chain(session: str, application: str) -> issue_pb2.IssueChain:
    """An application's data writer could not write any more and put the application in error."""
    store = "hdf5_datawriter_0"
    return make_issue_chain(
        session, application, "ERROR", f"Data store '{store}' is full: the application stops writing",
        name="dfmodules::DataStoreFull",
        causes=[("hdf5libs::FileOperationProblem",
                 f"Problem opening file /data0/{session}_{application}_0001.hdf5.writing"),
                ("ers::FileSystemError", "No space left on device", "FATAL")],
        parameters={"store": store, "free_gb": 0, "application": application},
        function_name="void dunedaq::dfmodules::DataWriterModule::do_work(std::atomic<bool>&)",
    )


def command_failed_chain(session: str, application: str, command: str) -> issue_pb2.IssueChain:
    """An application answered a run-control command with a failure."""
    return make_issue_chain(
        session, application, "ERROR", f"Command '{command}' failed on application '{application}'",
        name="appfwk::CommandFailed",
        causes=[("appfwk::CommandDispatchingFailed",
                 f"Command {command} was not executed correctly by: {application}-module-0"),
                ("iomanager::ConnectionInstanceNotFound", "Connection 'td_to_dfo' not found")],
        parameters={"command": command, "application": application},
        function_name="void dunedaq::appfwk::DAQModuleManager::execute(const dataobj_t&)",
    )
