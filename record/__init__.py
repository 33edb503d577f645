"""The system of record: every decision and every label, kept in PostgreSQL.

score path -> `sink.RecordSink` (Redis Stream, local spool when Redis is down) -> `recorder`
(consumer group, COPY) -> PostgreSQL -> `decisions`/`labels` queries and `export` as history.
"""
