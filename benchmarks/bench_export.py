"""Export speed: the record as a history file (`record.export.export_history`).

    .venv/bin/python -m benchmarks.bench_export [--records 1000000]

Fills a private PostgreSQL with `--records` decisions (through `DecisionWriter`, as the
recorder writes them; this takes a while and is not timed), labels one in 50, then times the
export of all of them to Parquet: through `export_history`, then through the command users run
(`riskscore history export`, in this process).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from benchmarks.bench_recording import bodies
from record import partitions, schema
from record.export import export_history
from record.labels import LabelEvent, add_label
from record.server import PostgresServer
from record.writer import DecisionWriter
from riskscore import cli as riskscore_cli


async def fill(url: str, count: int) -> None:
    writer = DecisionWriter()
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        await partitions.maintain(connection)
        for low in range(0, count, 100_000):
            records = bodies(f"e{low}", min(100_000, count - low))
            for start in range(0, len(records), 5_000):
                await writer.write(connection, records[start : start + 5_000])
            now = datetime.now(UTC)
            for i in range(0, len(records), 50):
                event = LabelEvent(f"e{low}-{i:09d}", "chargeback", "bench", now, "bench")
                await add_label(connection, event)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    args = parser.parse_args()
    with PostgresServer(fsync=False) as postgres, tempfile.TemporaryDirectory() as folder:
        schema.upgrade(postgres.url)
        started = time.perf_counter()
        asyncio.run(fill(postgres.url, args.records))
        print(f"filled {args.records:,} decisions in {time.perf_counter() - started:.0f} s")
        now = datetime.now(UTC)
        out = Path(folder) / "history.parquet"
        started = time.perf_counter()
        window = (now - timedelta(days=1), now + timedelta(days=1))
        rows = export_history(postgres.url, *window, out).rows
        seconds = time.perf_counter() - started
        print(f"exported {rows:,} decisions in {seconds:.1f} s ({rows / seconds:,.0f} rows/s), "
              f"{out.stat().st_size / 1e6:.0f} MB of Parquet")  # fmt: skip
        started = time.perf_counter()
        command = ["history", "export", "--since", "2d", "--out", str(out)]
        code = riskscore_cli.main([*command, "--database-url", postgres.url])
        seconds = time.perf_counter() - started
        print(f"riskscore history export: exit {code}, {seconds:.1f} s")


if __name__ == "__main__":
    main()
