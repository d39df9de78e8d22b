"""Several uvicorn worker processes, each accepting on its own SO_REUSEPORT socket.

uvicorn's `workers=N` shares one listening socket: whichever worker wakes first
accepts a whole burst of connections. Keep-alive clients (a proxy's pool, a
discovery layer, the benchmark's 16 connections) then stay unevenly spread, 13 to
3 in our measurement, and the busy worker's queue sets everyone's latency. With one
socket per worker bound with SO_REUSEPORT (as nginx's `reuseport` and gunicorn's
`--reuse-port`), the kernel hands each new connection to a worker by hash: random,
so still 11 to 5 at times. `ShareLoad` evens that out: the workers count their
requests in flight in shared memory, and one carrying more than its share answers
with `Connection: close`, so that client reconnects and lands anew
(`load_sharing.ShareLoad`, which the app imports: this module imports the app, not the reverse).
"""

from __future__ import annotations

import multiprocessing
import signal
import socket
import sys
import time
from typing import Any

from search_service.settings import Settings
from search_service.web import load_sharing

#: A worker that dies is started again, but not more often than this (seconds).
RESTART_PAUSE = 1.0


def supported() -> bool:
    """Whether this platform has SO_REUSEPORT (Linux, the BSDs, macOS)."""
    return hasattr(socket, "SO_REUSEPORT")


def _socket(host: str, port: int, *, listen: bool) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    if listen:
        sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _worker(host: str, port: int, settings: Settings, log_level: str, counts: Any, index: int) -> None:
    import uvicorn

    from search_service.web.app import create_app
    from search_service.web.http_protocol import uvicorn_options

    load_sharing.join(counts, index)
    sock = _socket(host, port, listen=True)
    config = uvicorn.Config(create_app(settings), **uvicorn_options(settings, log_level))
    uvicorn.Server(config).run(sockets=[sock])


def run(host: str, port: int, workers: int, settings: Settings, log_level: str = "info") -> None:
    """Serve `create_app(settings)` with `workers` processes until SIGINT or SIGTERM.

    Each worker builds its app and its uvicorn options from the same Settings (pickled
    to it: the workers are spawned, not forked).
    """
    # Bound but never listening, this socket only reserves the port and turns "address in
    # use" into one clear error here instead of a crash in every worker.
    try:
        reservation = _socket(host, port, listen=False)
    except OSError as exc:
        raise SystemExit(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    context = multiprocessing.get_context("spawn")
    counts = context.Array("i", workers, lock=False)  # requests in flight, per worker
    processes: list[Any] = []
    stopping = False

    def start(index: int) -> Any:
        counts[index] = 0
        process = context.Process(target=_worker, args=(host, port, settings, log_level, counts, index), daemon=False)
        process.start()
        return process

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        processes = [start(i) for i in range(workers)]
        print(f"iiif-search: {workers} workers on http://{host}:{port} (SO_REUSEPORT)", file=sys.stderr)
        while not stopping:
            time.sleep(0.2)
            for i, process in enumerate(processes):
                if not process.is_alive() and not stopping:
                    print(
                        f"iiif-search: worker {process.pid} exited ({process.exitcode}); starting another",
                        file=sys.stderr,
                    )
                    time.sleep(RESTART_PAUSE)
                    processes[i] = start(i)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()  # uvicorn shuts down gracefully on SIGTERM
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        reservation.close()
