"""A real Dask cluster on 127.0.0.1: one `dask scheduler` and `dask worker` processes, as a user starts them.

Used by tests/indexer/test_cluster.py and bench/ocr_cluster.py. Every process listens on
127.0.0.1 only (dashboards included, on free ports); logs go to files in `directory`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

DASK = str(Path(sys.executable).with_name("dask"))


class LoopbackCluster:
    """`dask scheduler` plus `workers` × `dask worker --nthreads N`, each worker under its nanny."""

    def __init__(
        self,
        directory: Path,
        workers: int = 2,
        *,
        nthreads: int = 1,
        preload: Path | None = None,
        worker_env: dict[str, str] | None = None,
    ) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.workers = workers
        self.nthreads = nthreads
        self.preload = preload
        self.worker_env = worker_env or {}
        self.address = ""
        self.scheduler: subprocess.Popen[bytes] | None = None
        self.nannies: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> LoopbackCluster:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def start(self, timeout: float = 180) -> None:
        scheduler_file = self.directory / "scheduler.json"
        self.scheduler = subprocess.Popen(
            [
                DASK,
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--dashboard-address",
                "127.0.0.1:0",
                "--scheduler-file",
                str(scheduler_file),
            ],
            stdout=self._log("scheduler"),
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while not self.address:
            if self.scheduler.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dask scheduler did not start: {self.log('scheduler')[-2000:]}")
            with contextlib.suppress(OSError, ValueError, KeyError):
                self.address = json.loads(scheduler_file.read_text())["address"]
            time.sleep(0.1)
        for n in range(self.workers):
            self.add_worker(f"w{n}")
        if self.workers:
            self.wait_for_workers(self.workers, deadline - time.monotonic())

    def add_worker(self, name: str, *, nthreads: int | None = None, env: dict[str, str] | None = None) -> None:
        """One more `dask worker` (a nanny and its worker process) named `name`."""
        preload = ["--preload", str(self.preload)] if self.preload else []
        command = [
            DASK,
            "worker",
            self.address,
            "--name",
            name,
            "--nthreads",
            str(nthreads or self.nthreads),
            "--host",
            "127.0.0.1",
            "--dashboard-address",
            "127.0.0.1:0",
            "--local-directory",
            str(self.directory / name),
            *preload,
        ]
        full_env = env if env is not None else {**os.environ, **self.worker_env}
        self.nannies.append(
            subprocess.Popen(
                command, stdout=self._log(name), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=full_env
            )
        )

    def wait_for_workers(self, count: int, timeout: float = 120) -> None:
        with self.client() as client:
            client.wait_for_workers(count, timeout=max(1.0, timeout))

    def client(self) -> Any:
        from distributed import Client

        return Client(self.address, timeout=30, set_as_default=False)

    def worker_pids(self) -> dict[str, int]:
        """Worker address -> pid of its worker process (not the nanny's)."""
        with self.client() as client:
            return dict(client.run(os.getpid))

    def kill_busy_worker(self, prefix: str = "iiif-ocr") -> tuple[str, list[str]]:
        """SIGKILL a worker that is running a task named `prefix` now (else any busy one): (address, its tasks)."""
        with self.client() as client:
            processing = {a: [str(k) for k in keys] for a, keys in client.processing().items() if keys}
            pids = dict(client.run(os.getpid))
        busy = [a for a, keys in processing.items() if any(prefix in k for k in keys)] or list(processing)
        if not busy:
            raise RuntimeError("no worker is running anything")
        os.kill(pids[busy[0]], signal.SIGKILL)
        return busy[0], processing[busy[0]]

    def kill_scheduler(self) -> None:
        assert self.scheduler is not None
        self.scheduler.send_signal(signal.SIGKILL)
        self.scheduler.wait(30)

    def close(self) -> None:
        processes = [*self.nannies, *([self.scheduler] if self.scheduler else [])]
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)

    def log(self, name: str) -> str:
        path = self.directory / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _log(self, name: str) -> Any:
        return (self.directory / f"{name}.log").open("ab")
