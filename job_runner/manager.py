"""The app's background-callback manager: dash's DiskcacheManager (results, progress and set_props in a diskcache
every worker shares; job handles signed with SECRET_KEY; job_running / terminate_job by pid), except that a job
is started by the worker's job runner instead of being forked from the worker."""

from __future__ import annotations

from dash import DiskcacheManager

from job_runner.client import JobRunnerError, RunnerClient

__all__ = ["JobRunnerError", "JobRunnerManager"]


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
        return self._runner.start_job(registry_key, key, self._make_progress_key(key), args, dict(context))

    # The runner reaps a finished job at once, so its pid can vanish between two psutil calls (a forked job stayed
    # a zombie until the worker's next fork): dash's own versions would then fail the poll with NoSuchProcess.
    def terminate_job(self, job):
        import psutil

        if job is None:
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
            return bool(job) and psutil.Process(int(job)).status() != psutil.STATUS_ZOMBIE
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
