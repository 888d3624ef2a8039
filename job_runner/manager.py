"""The app's background-callback manager: dash's DiskcacheManager (results, progress and set_props in a diskcache
every worker shares; job handles signed with SECRET_KEY; job_running / terminate_job by pid), except that a job
is started by the worker's job runner instead of being forked from the worker."""

from __future__ import annotations

from dash import DiskcacheManager, Patch

from components.toasts import TOASTS, make_toast
from job_runner.client import JobRunnerError, RunnerClient

__all__ = ["JobRunnerError", "JobRunnerManager"]

# The "pid" of a job that was never started: never running, never killed.
NOT_STARTED = -1


class JobRunnerManager(DiskcacheManager):
    def __init__(self, cache, settings, *, cache_by=None, expire=None):
        super().__init__(cache, cache_by=cache_by, expire=expire)
        self._runner = RunnerClient(settings)

    def call_job_fn(self, key, job_fn, args, context):
        # The runner's app registered the same function under the same key (the callback's id and source).
        registry_key = next((k for k, fn in self.func_registry.items() if fn is job_fn), None)
        if registry_key is None:
            raise JobRunnerError("this callback is not registered as a background callback")
        # dash hands the job an AttributeDict; a plain dict pickles without dash's class and is rebuilt the same.
        try:
            return self._runner.start_job(registry_key, key, self._make_progress_key(key), args, dict(context))
        except JobRunnerError as exc:
            # dash drops a background callback's toasts sent from the request: answer as a job that failed at
            # once would, with its toast, so the operator reads why nothing happened.
            self._finish_unstarted(key, str(exc))
            return NOT_STARTED

    def _finish_unstarted(self, key: str, reason: str) -> None:
        toasts = Patch()
        toasts.append(make_toast("Not done", f"{reason}. Nothing was sent.", "danger"))
        self.handle.set(self._make_set_props_key(key), {TOASTS: {"children": toasts}}, expire=self.expire)
        self.handle.set(key, {"_dash_no_update": "_dash_no_update"}, expire=self.expire)

    # The runner reaps a finished job at once, so its pid can vanish between two psutil calls (a forked job stayed
    # a zombie until the worker's next fork): dash's own versions would then fail the poll with NoSuchProcess.
    def terminate_job(self, job):
        import psutil

        if job is None or int(job) <= 0:
            return
        with self.handle.transact():  # as dash does: one worker kills it
            try:
                process = psutil.Process(int(job))
                children = process.children(recursive=True)
            except psutil.NoSuchProcess:
                return
            for proc in (*children, process):
                try:
                    proc.kill()
                except psutil.NoSuchProcess:
                    pass
            try:
                process.wait(1)
            except (psutil.TimeoutExpired, psutil.NoSuchProcess):
                pass

    def job_running(self, job):
        import psutil

        try:
            return bool(job) and int(job) > 0 and psutil.Process(int(job)).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    @property
    def runner_pid(self) -> int | None:
        """The pid of the worker's job runner while it runs, else None."""
        return self._runner.pid

    def start_runner(self) -> int:
        """Start the runner now rather than at the first job (gunicorn does, once per worker)."""
        return self._runner.ensure_started()

    def close(self) -> None:
        """Stop the runner; jobs it started carry on."""
        self._runner.close()
