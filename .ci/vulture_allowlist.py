"""Names used where vulture cannot see (``make lint``, .ci/deadcode.py): from a string, or only by tests and bench."""

from regaudit.analytics.alerts import stream
from regaudit.evidence import chain
from regaudit.ingest.receive import syslog
from regaudit.ingest.sinks.memory import MemorySink
from regaudit.schemas.access import COMBINED_PATTERN
from regaudit.schemas.rows import CANONICAL_ROWS, UPGRADED_ROWS
from regaudit.simulator.wire import encode_event

_ = (
    chain.seal_batch,  # a batch hook: ingest/hooks.py names it as "module:function" (BATCH_HOOKS), importlib loads it
    stream.queue_stream_alerts,  # the same
    MemorySink,  # the in-memory sink of STYLE.md's seams: tests and bench/webhook.py run the webhook on it
    encode_event,  # the reference encoder the simulator's fast path (encode_envelope) is tested against
    COMBINED_PATTERN,  # the combined line's wire contract with CombinedLine (the consumer parses it in SQL)
    CANONICAL_ROWS,  # the row models by table: tests/schemas holds them to the store's DDL
    UPGRADED_ROWS,
    syslog._UDPServer.max_packet_size,  # read by socketserver.UDPServer.get_request
    syslog._TCPServer.request_queue_size,  # read by socketserver.TCPServer.server_activate (listen's backlog)
)
