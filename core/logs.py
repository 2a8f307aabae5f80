"""Logging set-up for entry points (library code only calls logging.getLogger(__name__)).

A log message may quote what a message sender wrote (an id, a currency, a server's error about
it): its control characters (newlines, terminal escapes) are written escaped, so a message can
neither forge a log line nor drive the terminal that shows it. Tracebacks keep their lines."""
from __future__ import annotations

import copy
import logging
import re

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def as_text(message: str) -> str:
    """The message with every control character written as its escape (\\n, \\x1b, \\u2028)."""
    return _CONTROL.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), message)


class TextOnlyFormatter(logging.Formatter):
    """A formatter that writes the message part of a record as escaped text."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        escaped = copy.copy(record)
        escaped.message = as_text(record.message)
        return super().formatMessage(escaped)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(TextOnlyFormatter(LOG_FORMAT))
    logging.basicConfig(level=level, handlers=[handler])
    logging.getLogger("py4j").setLevel(logging.WARNING)
