"""Start ``deeptarget serve`` in a real subprocess (uvicorn on loopback) for the hot-swap and durability tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    def __init__(self, registry: Path, port: int, log: Path, env: dict[str, str], args: list[str]) -> None:
        self.url = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "deeptarget.cli.main", "serve", "--registry", str(registry)]
        command += ["--port", str(port), *args]
        self._log = log.open("ab")
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, env={**os.environ, **env})

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}")
            try:
                if httpx.get(self.url + "/health", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"server at {self.url} not ready after {timeout}s")

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, nothing is flushed on the way out."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self._log.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=20)
        self._log.close()


@contextmanager
def live_server(
    registry: Path, log: Path, *, env: dict[str, str] | None = None, args: list[str] | None = None, port: int = 0
) -> Iterator[LiveServer]:
    server = LiveServer(registry, port or free_port(), log, env or {}, args or [])
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()
