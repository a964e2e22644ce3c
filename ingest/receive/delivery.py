"""Delivering a POST's records from the webhook's event loop, without a thread per request.

A Distribution registry waits for each answer before it sends the next event (FORMATS.md section 1.6), so the
time between Kafka's acknowledgement and the answer is the registry's throughput. The Kafka sink can send without
blocking once its producer knows the topics (``KafkaRecordSink.send_nowait``); its I/O thread then wakes the loop
when the last acknowledgement arrives. Before that (the first POST, after a broker failure), and for any other
sink (the DuckDB store), ``deliver`` runs in a worker thread as before. Either way the contract is the sink's:
this returns only once every record is durable, and raises what ``deliver`` raises.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from starlette.concurrency import run_in_threadpool

from regaudit.ingest.records import RawRecord
from regaudit.ingest.sinks import RecordSink

Records = Sequence[tuple[str | None, RawRecord]]
Deliver = Callable[[Records], Awaitable[None]]


@runtime_checkable
class NonBlockingSink(Protocol):
    """A sink that can send from the event loop and say when it is done (``KafkaRecordSink``)."""

    #: the longest wait for acknowledgements, should the producer never report (it fails them itself before)
    ack_timeout_seconds: float

    def send_nowait(self, records: Records, on_done: Callable[[], None]) -> Any: ...

    def settle(self, sent: Any, records: Records) -> None: ...


def delivery(sink: RecordSink) -> Deliver:
    """The webhook's deliver step for this sink."""

    async def in_thread(records: Records) -> None:
        await run_in_threadpool(sink.deliver, records)

    if not isinstance(sink, NonBlockingSink):
        return in_thread
    nonblocking = sink

    async def from_loop(records: Records) -> None:
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def wake() -> None:  # from Kafka's I/O thread
            loop.call_soon_threadsafe(_finish, done)

        sent = nonblocking.send_nowait(records, wake)
        if sent is None:
            await in_thread(records)
            return
        with contextlib.suppress(TimeoutError):  # settle() fails what is still unacknowledged
            await asyncio.wait_for(done, nonblocking.ack_timeout_seconds)
        nonblocking.settle(sent, records)

    return from_loop


def _finish(done: asyncio.Future[None]) -> None:
    if not done.done():  # a wait that timed out has cancelled it
        done.set_result(None)
