"""The local on-disk spool: where a worker keeps records while Redis cannot take them.

`RecordSink` -> `Spool.append` (framed, flushed to the OS at once: a kill -9 loses nothing)
-> `Spool.drain` hands them back, segment by segment, once Redis is back; a segment is deleted
only after every record in it reached the stream. Workers may share one folder: a segment is
locked (flock) by the worker writing or draining it, and a dead worker's segments are free.
"""

from __future__ import annotations

import fcntl
import logging
import os
import struct
import time
import zlib
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

LOG = logging.getLogger(__name__)
DEFAULT_MAX_BYTES = 1 << 30  # 1 GiB: about 330,000 records of 3 KB
DEFAULT_SEGMENT_BYTES = 16 << 20
SUFFIX = ".spool"
_HEADER = struct.Struct(">II")  # length, CRC-32 of the body


@dataclass
class _Segment:
    path: Path
    handle: BinaryIO
    size: int = 0


def _lock(handle: BinaryIO) -> bool:
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@dataclass
class Spool:
    """A bounded folder of append-only segment files of framed records.

    >>> spool = Spool(Path("/var/lib/riskscore/spool"))
    >>> spool.append(b'{"transaction_id": "tx-1", ...}')  # False when the spool is full
    >>> for segment, bodies in spool.drain(): ...; segment.done()
    """

    directory: Path
    max_bytes: int = DEFAULT_MAX_BYTES
    segment_bytes: int = DEFAULT_SEGMENT_BYTES
    _current: _Segment | None = field(default=None, init=False, repr=False)
    _sequence: int = field(default=0, init=False, repr=False)
    _size: int | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)

    def size_bytes(self, *, refresh: bool = False) -> int:
        """Bytes held by every segment in the folder (this worker's and others')."""
        if self._size is None or refresh:
            self._size = sum(p.stat().st_size for p in self._segments() if p.exists())
        return self._size

    def append(self, body: bytes) -> bool:
        """Write one record; False (nothing written) when the spool holds `max_bytes`."""
        frame = _HEADER.pack(len(body), zlib.crc32(body)) + body
        if self.size_bytes() + len(frame) > self.max_bytes:
            return False
        segment = self._writable()
        segment.handle.write(frame)
        segment.handle.flush()  # in the OS's hands now: survives the worker's death
        segment.size += len(frame)
        self._size = self.size_bytes() + len(frame)
        if segment.size >= self.segment_bytes:
            self.rotate()
        return True

    def _writable(self) -> _Segment:
        if self._current is None:
            self._sequence += 1
            path = self.directory / f"{os.getpid()}-{time.time_ns()}-{self._sequence:06d}{SUFFIX}"
            handle = path.open("ab")
            _lock(handle)  # a fresh name: nobody else holds it
            self._current = _Segment(path, handle)
        return self._current

    def rotate(self) -> None:
        """Close the segment being written, so that it can be drained."""
        if self._current is not None:
            os.fsync(self._current.handle.fileno())
            self._current.handle.close()  # releases the lock
            self._current = None

    def _segments(self) -> list[Path]:
        return sorted(self.directory.glob(f"*{SUFFIX}"))

    def drain(self) -> Generator[Drained, None, None]:
        """Each segment no other worker holds, locked while the caller has it; the caller
        calls `done()` once every record of the segment is safe elsewhere (it is deleted)."""
        self.rotate()
        for path in self._segments():
            try:
                handle = path.open("rb")
            except FileNotFoundError:
                continue  # drained by another worker meanwhile
            with handle:
                if _lock(handle) and path.exists():
                    yield Drained(self, path, handle)

    def close(self) -> None:
        self.rotate()


@dataclass
class Drained:
    """One locked segment being drained."""

    spool: Spool
    path: Path
    handle: BinaryIO

    def batches(self, size: int = 500) -> Iterator[list[bytes]]:
        bodies: list[bytes] = []
        for body in _frames(self.handle, self.path):
            bodies.append(body)
            if len(bodies) >= size:
                yield bodies
                bodies = []
        if bodies:
            yield bodies

    def done(self) -> None:
        self.path.unlink(missing_ok=True)
        self.spool.size_bytes(refresh=True)


def _frames(handle: BinaryIO, path: Path) -> Iterator[bytes]:
    """The records of a segment; a torn last frame (a write cut short) ends it."""
    while header := handle.read(_HEADER.size):
        if len(header) < _HEADER.size:
            LOG.warning("spool segment %s ends in a torn frame header; ignored", path)
            return
        length, checksum = _HEADER.unpack(header)
        body = handle.read(length)
        if len(body) < length or zlib.crc32(body) != checksum:
            LOG.warning("spool segment %s ends in a torn or damaged record; ignored", path)
            return
        yield body
