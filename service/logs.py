"""JSON log lines: one object per line, with the request id, decision and latency of requests.

Card ids, IPs and other client values are never logged: a route adds only the transaction id,
the decision, the score and rule ids (`request.state.log`). Whatever a line holds, a card
number in it is masked before it is written (`history.card_numbers`), whoever logged it.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import orjson

from history.card_numbers import mask_card_numbers_in


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return orjson.dumps(mask_card_numbers_in(line), default=str).decode()


def configure_logging(level: str = "INFO") -> None:
    """Every logger (the service's, uvicorn's) writes JSON lines to standard error."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # uvicorn's access log prints client addresses; ours (`riskscore.access`) does not.
    logging.getLogger("uvicorn.access").disabled = True
