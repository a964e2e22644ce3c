"""A real single-node Apache Kafka 4.x broker for the integration tests (DESIGN.md section 7).

`KafkaBroker` runs one KRaft process that is both broker and controller, straight from the Maven Central jars
(`.ci/install-kafka.sh`) with the machine's Java 17: no Docker, no tarball. It owns a work directory holding
`server.properties`, the data (`data/`) and the broker's own log (`server.log`, WARN and above). Ports are
picked at start and kept for the broker's lifetime, so `restart()` after `stop()` or `kill()` brings back the
same broker with the same data: that is how the delivery-contract tests (DESIGN.md section 4) crash it.

Errors: `BrokerError` (the broker did not format, start or stop) carries the tail of the broker's log.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

# kafka-python 3.0 reads its protocol schemas with importlib.resources.read_text (deprecated in Python 3.11):
# ~200 DeprecationWarnings, all during its import, which `filterwarnings = ["error"]` turns into errors.
# Import it once here, with exactly those warnings silenced; later imports hit sys.modules and warn no more.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", r"(read|open)_text is deprecated", DeprecationWarning)
    import kafka
    import kafka.admin
    import kafka.errors

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = REPO_ROOT / ".ci" / "install-kafka.sh"
LOG4J_CONFIG = REPO_ROOT / ".ci" / "kafka" / "log4j2.xml"
DEFAULT_LIBS = REPO_ROOT / ".cache" / "kafka" / "libs"
LIBS_ENV = "REGAUDIT_KAFKA_LIBS"

NODE_ID = 1
# Two cores: a modest heap, and a G1 tuned for short pauses, as Kafka's own start script does.
JVM_OPTIONS = ("-Xms256m", "-Xmx768m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true")


class BrokerError(RuntimeError):
    """The broker could not be formatted, started or stopped; the message ends with its log's tail."""


def kafka_libs(environ: dict[str, str] | None = None) -> Path:
    """The Kafka jars: `$REGAUDIT_KAFKA_LIBS`, else `.cache/kafka/libs`; installed there on first use."""
    env = os.environ if environ is None else environ
    libs = Path(env.get(LIBS_ENV) or DEFAULT_LIBS)
    if not any(libs.glob("kafka_2.13-*.jar")):
        logger.info("kafka jars missing in %s, running %s", libs, INSTALL_SCRIPT)
        environment = {**os.environ, LIBS_ENV: str(libs)}
        subprocess.run([str(INSTALL_SCRIPT)], check=True, stdout=subprocess.DEVNULL, env=environment)
    return libs


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class KafkaBroker:
    """One KRaft broker+controller process on 127.0.0.1, its data and log under `work_dir`."""

    def __init__(
        self,
        libs: Path,
        work_dir: Path | None = None,
        *,
        java: str | None = None,
        start_timeout: float = 90.0,
        extra_properties: dict[str, str] | None = None,
    ) -> None:
        self.libs = libs
        self._owns_work_dir = work_dir is None
        self.work_dir = Path(tempfile.mkdtemp(prefix="regaudit-kafka-")) if work_dir is None else work_dir
        self.java = java or _java_binary()
        self.start_timeout = start_timeout
        self.extra_properties = dict(extra_properties or {})
        self.port = free_port()
        self.controller_port = free_port()
        self.cluster_id = _cluster_id()
        self.start_seconds: float | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """The `bootstrap_servers` value for clients: `127.0.0.1:<port>`."""
        return f"127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.work_dir / "server.log"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Formats the storage on first start, launches the JVM, waits until an admin client lists topics."""
        if self.running:
            raise BrokerError(f"kafka broker on {self.bootstrap} is already running")
        began = time.monotonic()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        properties = self._write_properties()
        if not (self.work_dir / "data" / "meta.properties").exists():
            self._format(properties)
        on_main_thread = threading.current_thread() is threading.main_thread()
        stdout = (self.work_dir / "stdout.log").open("ab")
        try:
            self._process = subprocess.Popen(
                [*self._java_command(), "kafka.Kafka", str(properties)],
                cwd=self.work_dir,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent() if on_main_thread else None,
            )
        finally:
            stdout.close()
        _live_brokers.add(self)
        self._wait_until_ready()
        self.start_seconds = time.monotonic() - began
        logger.info("kafka broker bootstrap=%s start_seconds=%.1f", self.bootstrap, self.start_seconds)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (controlled shutdown) and waits; SIGKILL if it has not exited within `timeout` seconds."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                logger.warning("kafka broker %s ignored SIGTERM for %.0fs", self.bootstrap, timeout)
                self.kill()
                return
        self._process = None
        _live_brokers.discard(self)

    def kill(self) -> None:
        """SIGKILL, as a crash would: no controlled shutdown, no flush beyond what the OS already holds."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._process = None
        _live_brokers.discard(self)

    def restart(self) -> None:
        """Stops the broker if it runs, then starts it again on the same ports and the same data."""
        self.stop()
        self.start()

    def create_topics(self, names: Iterable[str], partitions: int = 3) -> list[str]:
        """Creates the topics (replication factor 1) and waits until every partition has a leader."""
        topics = list(names)
        spec = {name: {"num_partitions": partitions, "replication_factor": 1} for name in topics}
        with contextlib.closing(self.admin_client()) as admin:
            admin.create_topics(spec, wait_for_metadata=True)
        return topics

    def admin_client(self, **configs: Any) -> Any:
        """A kafka-python `KafkaAdminClient` on this broker; the caller closes it."""
        return kafka.KafkaAdminClient(bootstrap_servers=self.bootstrap, **configs)

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the broker's log and of its stdout, for error messages."""
        parts = []
        for path in (self.log_file, self.work_dir / "stdout.log"):
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {path} ---\n" + "\n".join(tail))
        return "\n".join(parts) or "(the broker wrote no log)"

    def close(self) -> None:
        """Stops the broker and removes the work directory if this object created it."""
        self.stop()
        if self._owns_work_dir:
            _remove_tree(self.work_dir)

    def __enter__(self) -> KafkaBroker:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"KafkaBroker(bootstrap={self.bootstrap!r}, work_dir={str(self.work_dir)!r})"

    def _write_properties(self) -> Path:
        path = self.work_dir / "server.properties"
        settings = _server_properties(self.port, self.controller_port, self.work_dir)
        settings.update(self.extra_properties)
        path.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
        return path

    def _java_command(self) -> list[str]:
        return [
            self.java,
            *JVM_OPTIONS,
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
            f"-Dkafka.logs.dir={self.work_dir}",
            "-cp",
            f"{self.libs}/*",
        ]

    def _format_arguments(self, properties: Path) -> list[str]:
        # Kafka 4.x: a single dynamic-quorum controller is formatted with --standalone, which requires
        # controller.quorum.bootstrap.servers (and forbids controller.quorum.voters) in server.properties.
        return ["format", "--cluster-id", self.cluster_id, "--config", str(properties), "--standalone"]

    def _format(self, properties: Path) -> None:
        command = [*self._java_command(), "kafka.tools.StorageTool", *self._format_arguments(properties)]
        result = subprocess.run(command, cwd=self.work_dir, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise BrokerError(
                f"kafka storage format failed (exit {result.returncode}):\n{result.stdout}{result.stderr}\n"
                + self.log_tail()
            )

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        last_error: BaseException | None = None
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                code = self._process.returncode
                self._process = None
                _live_brokers.discard(self)
                raise BrokerError(f"kafka broker exited with code {code} while starting\n{self.log_tail()}")
            if _port_open(self.port):
                try:
                    admin = self.admin_client(bootstrap_timeout_ms=2000, request_timeout_ms=5000)
                    with contextlib.closing(admin):
                        admin.list_topics()
                    return
                except kafka.errors.KafkaError as error:
                    last_error = error
            time.sleep(0.2)
        self.kill()
        raise BrokerError(
            f"kafka broker on {self.bootstrap} not ready after {self.start_timeout:.0f}s "
            f"(last error: {last_error!r})\n{self.log_tail()}"
        )


def _server_properties(port: int, controller_port: int, work_dir: Path) -> dict[str, str]:
    """Single-node KRaft settings: everything replicated once, loopback only, topics created explicitly."""
    return {
        "process.roles": "broker,controller",
        "node.id": str(NODE_ID),
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "controller.quorum.bootstrap.servers": f"127.0.0.1:{controller_port}",
        "log.dirs": str(work_dir / "data"),
        "num.partitions": "3",
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        "auto.create.topics.enable": "false",
        "offsets.topic.replication.factor": "1",
        # 50 partitions by default: creating them delays the first consumer group by seconds on two cores.
        "offsets.topic.num.partitions": "3",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "3",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        # After a SIGKILL the restarted broker cannot register until its old session expires (9 s by default).
        "broker.heartbeat.interval.ms": "1000",
        "broker.session.timeout.ms": "4000",
        "num.network.threads": "2",
        "num.io.threads": "4",
        "log.retention.check.interval.ms": "300000",
        # The captures are produced with their own record times, years old (Quay's forwarded logs): time retention
        # counts from those, so a retention check between producing and consuming deleted them (a CI run saw the
        # consumer's "earliest" offset already past Quay's four records). Tests keep every record.
        "log.retention.ms": "-1",
    }


def _cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding (what `random-uuid` prints).

    Like Kafka's own ``Uuid.randomUuid``, never one that starts with ``-``: StorageTool would read it as an option
    ("expected one argument"), about one start in 64.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def _java_binary() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return str(Path(java_home) / "bin" / "java")
    return "java"


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


def _die_with_parent() -> Any:
    """A preexec_fn asking Linux to SIGTERM the JVM when the test process dies, even by SIGKILL.

    Linux ties this to the thread that forked, so it is only used from the main thread.
    """
    if _libc is None:
        return None
    libc = _libc

    def set_parent_death_signal() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)

    return set_parent_death_signal


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


_live_brokers: set[KafkaBroker] = set()


@atexit.register
def _stop_live_brokers() -> None:
    """Last line of defence against orphan JVMs: stop whatever a crashed test run left running."""
    for broker in list(_live_brokers):
        broker.stop(timeout=10.0)
