"""Log lines show what a sender wrote as text: one record is one line, with no terminal escapes."""
from __future__ import annotations

import io
import logging

from core.logs import LOG_FORMAT, TextOnlyFormatter


def test_a_quoted_message_cannot_forge_a_log_line_or_drive_the_terminal():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(TextOnlyFormatter(LOG_FORMAT))
    log = logging.getLogger("payscore.test_logs")
    log.addHandler(handler)
    log.propagate = False
    hostile = "EURO\n2026-12-02 10:00:00,000 INFO sinks: batch 7 committed\x1b[2J\u2028<b>x</b>"
    try:
        log.warning("currency is not an ISO 4217 code: %s", hostile)
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("with a traceback")
    finally:
        log.removeHandler(handler)
    first, *rest = stream.getvalue().splitlines()
    assert first.endswith("currency is not an ISO 4217 code: EURO\\n2026-12-02 10:00:00,000 INFO sinks: batch 7 "
                          "committed\\x1b[2J\\u2028<b>x</b>")
    assert "\x1b" not in stream.getvalue()
    assert rest[0].endswith("with a traceback") and rest[1] == "Traceback (most recent call last):"
