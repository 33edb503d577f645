"""Webhooks: subscriptions, the outbox of events and one delivery per event and subscription.

An event is written in the transaction of what it reports (the transactional outbox), with a
pending delivery for each subscription that wants it; delivery workers claim due deliveries
with `FOR UPDATE SKIP LOCKED` (webhooks/deliveries.py).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES = """
CREATE TABLE webhook_subscriptions (
  subscription_id uuid PRIMARY KEY,
  url text NOT NULL CHECK (url ~* '^https?://'),
  kinds text[] NOT NULL CHECK (cardinality(kinds) > 0),
  -- decision.created only for these outcomes; NULL: every outcome.
  outcomes text[],
  -- AES-256-GCM under the service's webhook secrets key (webhooks/sealing.py), never plain.
  secret_sealed text NOT NULL,
  enabled boolean NOT NULL DEFAULT true,
  description text NOT NULL DEFAULT '',
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE webhook_events (
  event_id uuid PRIMARY KEY,
  kind text NOT NULL,
  payload json NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_events_created_at ON webhook_events (created_at);
CREATE TABLE webhook_deliveries (
  delivery_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_id uuid NOT NULL REFERENCES webhook_events (event_id) ON DELETE CASCADE,
  subscription_id uuid NOT NULL
    REFERENCES webhook_subscriptions (subscription_id) ON DELETE CASCADE,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
  attempts integer NOT NULL DEFAULT 0,
  -- Due time of a pending delivery; while one is being sent, the end of its worker's lease.
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_attempt_at timestamptz,
  last_status integer,
  last_error text,
  delivered_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (subscription_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
  WHERE status = 'pending';
CREATE INDEX webhook_deliveries_subscription
  ON webhook_deliveries (subscription_id, status, delivery_id);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);
-- The queue's depth at each metrics scrape reads only what is not delivered.
CREATE INDEX webhook_deliveries_undelivered ON webhook_deliveries (status, created_at)
  WHERE status <> 'delivered';
"""


def upgrade() -> None:
    op.get_bind().connection.driver_connection.execute(TABLES)  # type: ignore[union-attr]


def downgrade() -> None:
    op.execute("DROP TABLE webhook_deliveries")
    op.execute("DROP TABLE webhook_events")
    op.execute("DROP TABLE webhook_subscriptions")
