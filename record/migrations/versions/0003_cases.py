"""Cases: the review queue. A case groups the decisions of one card under review; every change
to it is an event. Cases outlive the decisions' partitions (no foreign key to the record).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# A case keeps what the queue shows of its decisions (card, device, highest score, rules), so
# that it still reads when a decision ages out of the record's retention. At most one
# unresolved case per card: a decision on that card is linked to it (the partial unique index
# makes two recorders opening one at the same time link to the same case).
CASES = """
CREATE TABLE cases (
  case_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  status text NOT NULL CHECK (status IN ('open', 'assigned', 'resolved')),
  resolution text CHECK (resolution IN ('fraud', 'legitimate', 'inconclusive')),
  assignee text,
  transaction_id text NOT NULL,
  card_id text NOT NULL,
  device_id text,
  decided_at timestamptz NOT NULL,
  score double precision NOT NULL,
  rules_matched text[] NOT NULL,
  opened_by text NOT NULL,
  opened_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  resolved_at timestamptz,
  resolved_by text,
  CHECK ((status = 'resolved') = (resolution IS NOT NULL)),
  CHECK ((status = 'resolved') = (resolved_at IS NOT NULL)),
  CHECK (status <> 'assigned' OR assignee IS NOT NULL)
);
CREATE UNIQUE INDEX cases_unresolved_card ON cases (card_id) WHERE status <> 'resolved';
CREATE INDEX cases_queue ON cases (opened_at, case_id);
CREATE INDEX cases_unresolved_opened ON cases (opened_at) WHERE status <> 'resolved';
"""

# A decision belongs to one case at most. `transaction_id` is not a foreign key: the link
# stays when the decision's partition is dropped (the case then says the decision aged out).
CASE_DECISIONS = """
CREATE TABLE case_decisions (
  case_id bigint NOT NULL REFERENCES cases (case_id) ON DELETE CASCADE,
  transaction_id text NOT NULL UNIQUE,
  decided_at timestamptz NOT NULL,
  linked_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (case_id, transaction_id)
);
"""

CASE_EVENTS = """
CREATE TABLE case_events (
  event_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  case_id bigint NOT NULL REFERENCES cases (case_id) ON DELETE CASCADE,
  kind text NOT NULL CHECK (
    kind IN ('opened', 'linked', 'claimed', 'assigned', 'resolved', 'noted', 'reopened')),
  actor text NOT NULL,
  at timestamptz NOT NULL DEFAULT clock_timestamp(),
  status text NOT NULL,
  assignee text,
  resolution text,
  transaction_id text,
  note text
);
CREATE INDEX case_events_case ON case_events (case_id, event_id);
CREATE INDEX decisions_device ON decisions (device_id, decided_at);
"""


def _run(block: str) -> None:
    op.get_bind().connection.driver_connection.execute(block)  # type: ignore[union-attr]


def upgrade() -> None:
    for block in (CASES, CASE_DECISIONS, CASE_EVENTS):
        _run(block)


def downgrade() -> None:
    _run(
        """
        DROP INDEX decisions_device;
        DROP TABLE case_events;
        DROP TABLE case_decisions;
        DROP TABLE cases;
        """
    )
