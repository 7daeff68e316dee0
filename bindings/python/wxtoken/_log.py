"""wxtoken's log records (docs/logging.md) on the standard `logging` logger "wxtoken".

The core calls `_emit` on its own log thread (never on a refresh thread, never holding a
wxtoken lock), so a handler may block or call wxtoken. Each record carries its fields as
attributes: `wxtoken_event` (a stable name: "token_refreshed", "refresh_failed",
"credentials_rejected", ...), `wxtoken_app`, `wxtoken_ts_ms`, `wxtoken_fields` (a dict),
and every field as `wxtoken_<name>` (`wxtoken_generation`, `wxtoken_errcode`,
`wxtoken_duration_ms`, ...). No record holds a token or a secret. Like every library,
wxtoken adds only a NullHandler: configure `logging` to see the records.
"""

from __future__ import annotations

import atexit
import logging
from typing import Any

from wxtoken._wxtoken import _set_log_sink, flush_log

logger = logging.getLogger("wxtoken")
logger.addHandler(logging.NullHandler())


def _emit(levelno: int, event: str, app: str, message: str, fields: dict[str, Any], ts_ms: int) -> None:
    # Only called when logger.isEnabledFor(levelno): nothing is built for a dropped level.
    extra: dict[str, Any] = {f"wxtoken_{k}": v for k, v in fields.items()}
    extra.update(wxtoken_event=event, wxtoken_app=app, wxtoken_ts_ms=ts_ms, wxtoken_fields=fields)
    if app:
        logger.log(levelno, "%s: %s", app, message, extra=extra)
    else:
        logger.log(levelno, "%s", message, extra=extra)


def _close() -> None:
    # Deliver what is pending, then never enter the interpreter again.
    flush_log(0.5)
    _set_log_sink(None)


_set_log_sink(_emit, logger.isEnabledFor)
atexit.register(_close)
