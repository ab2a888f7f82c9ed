"""Bounds applied to untrusted input (every bounce comes from a stranger)."""
from __future__ import annotations

#: Bytes of one message read at most; the rest is ignored (and said so).
MAX_MESSAGE_BYTES = 8 * 1024 * 1024
#: Lines of one message read at most (the standard library's reader spends ~2 us a line:
#: 8 M empty lines took 2.8 s, 2.7 M header lines 12 s and 430 MB).
MAX_MESSAGE_LINES = 200_000
#: Characters of one header value kept (the stdlib's parameter, RFC 2231 and boundary
#: parsing is quadratic: 1 MB of '; a=b' took 22 s, a 7 MB boundary 25 s and 900 MB).
MAX_HEADER_CHARS = 64 * 1024
#: Characters of a header value holding RFC 2047 encoded words decoded (decode_header is
#: quadratic: a 128 KB Subject of '=?a?q?x ' took 12.8 s).
MAX_ENCODED_HEADER_CHARS = 4096
#: MIME parts walked at most per message.
MAX_PARTS = 200
#: MIME nesting depth followed at most.
MAX_DEPTH = 12
#: Message objects (MIME parts and delivery-status blocks) the standard library's reader
#: builds per message at most; the message is read up to where it would build more. 8 MiB
#: of empty parts would otherwise take 14 s and 900 MB.
MAX_MIME_OBJECTS = 5000
#: Characters of human-readable text scanned per message.
MAX_TEXT_CHARS = 256 * 1024
#: Characters of one diagnostic text kept per recipient.
MAX_DIAGNOSTIC_CHARS = 4096
#: A vendor's X- fields kept per recipient's delivery-status block, and characters of each value.
MAX_EXTENSIONS = 16
MAX_EXTENSION_CHARS = 256
#: Recipients reported per message at most.
MAX_RECIPIENTS = 1000
#: Recipients reported per log excerpt or message trace at most (one per failed line or row;
#: an 8 MiB log holds about 30,000 delivery lines).
MAX_LISTED = 50_000
#: Characters of one line handed to a grammar.
MAX_LINE_CHARS = 8192
#: Some layout terminals backtrack on long lines: a text line is classified by its first
#: LEX_LINE_CHARS characters, and at most MAX_LONG_LINES lines longer than 256 characters
#: are lexed per text (later ones are plain text). Real bounces stay far inside both
#: (longest line seen ~1,050 characters; most long lines in one bounce: 9).
LEX_LINE_CHARS = 2048
MAX_LONG_LINES = 32
#: Characters of HTML read per message (its text is cut at MAX_TEXT_CHARS anyway).
MAX_HTML_CHARS = 4 * MAX_TEXT_CHARS
#: Folders nested deeper than this below a folder given are not walked (an error record says so).
MAX_WALK_DEPTH = 64
#: Seconds one message may take in a batch worker before it becomes an error record.
MESSAGE_TIMEOUT_SECONDS = 30
#: Bytes of one ``pack.toml`` read at most; a larger pack is refused.
MAX_PACK_BYTES = 2 * 1024 * 1024
#: Dotted parts of one TOML key in a pack (tomllib took 7.9 s and 2.4 GB on 20,000).
MAX_KEY_PARTS = 128
#: Rules following each other (``when.after``) in one chain at most.
MAX_AFTER_CHAIN = 64
