"""Bounds applied to untrusted input (every bounce comes from a stranger)."""
from __future__ import annotations

#: Bytes of one message read at most; the rest is ignored (and said so).
MAX_MESSAGE_BYTES = 8 * 1024 * 1024
#: MIME parts walked at most per message.
MAX_PARTS = 200
#: MIME nesting depth followed at most.
MAX_DEPTH = 12
#: Characters of human-readable text scanned per message.
MAX_TEXT_CHARS = 256 * 1024
#: Characters of one diagnostic text kept per recipient.
MAX_DIAGNOSTIC_CHARS = 4096
#: Recipients reported per message at most.
MAX_RECIPIENTS = 1000
#: Characters of one line handed to a grammar.
MAX_LINE_CHARS = 8192
#: Seconds one message may take in a batch worker before it becomes an error record.
MESSAGE_TIMEOUT_SECONDS = 30
