"""Background callbacks run by a job runner process, never forked from a web worker.

A web worker has threads in the middle of gRPC calls (pollers, other requests); a process forked from it
inherits gRPC's state half-way and its first call may fail ("Stream removed"). So each worker starts one
runner (`python -m job_runner`, a fresh interpreter, not a fork) that builds the same app, stays single-threaded
and never touches gRPC, and forks every job from there. See README, "How background jobs run".

    manager.JobRunnerManager   the Dash background-callback manager the app uses (a DiskcacheManager)
    client.RunnerClient        the worker's end: starts the runner, asks it to start jobs, restarts it
    __main__                   the runner itself
"""
