"""Request and response bodies of the review queue's routes (`/v1/cases`): what
`service.case_routes` reads and answers, as the OpenAPI schema shows it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from service.record_schemas import DecisionSummary, RecordedDecision
from service.schemas import Id, _Body

Status = Literal["open", "assigned", "resolved"]
Resolution = Literal["fraud", "legitimate", "inconclusive"]
Note = Annotated[str, Field(min_length=1, max_length=2_000)]
KeyName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]


class CaseSummary(BaseModel):
    """A case as the queue lists it. `score` and `rules_matched` cover all its decisions."""

    case_id: int
    status: Status
    resolution: Resolution | None
    assignee: str | None
    transaction_id: str = Field(description="The decision that opened the case.")
    card_id: str
    device_id: str | None
    decided_at: datetime
    score: float = Field(description="The highest score of the case's decisions.")
    rules_matched: list[str] = Field(description="Rules matched by any of its decisions.")
    opened_by: str = Field(description="'policy', or the API key that opened it by hand.")
    opened_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    age_seconds: float


class CasePage(BaseModel):
    cases: list[CaseSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null last.")


class CaseEventBody(BaseModel):
    """One change of a case: who (the API key's name, or 'policy'), when, what."""

    event_id: int
    kind: Literal["opened", "linked", "claimed", "assigned", "resolved", "noted", "reopened"]
    actor: str
    at: datetime
    status: Status = Field(description="The case's status after the change.")
    assignee: str | None
    resolution: Resolution | None
    transaction_id: str | None = Field(description="The decision opened on or linked.")
    note: str | None


class LinkedDecision(BaseModel):
    """A decision of the case; `in_record: false` once it has aged out of the record."""

    transaction_id: str
    decided_at: datetime
    linked_at: datetime
    in_record: bool
    decision: Literal["approve", "review", "challenge", "decline"] | None
    score: float | None
    rules_matched: list[str] | None


class CaseDetail(BaseModel):
    case: CaseSummary
    decision: RecordedDecision | None = Field(
        description="The opening decision with its features, reasons, rules and label "
        "history; null once it has aged out of the record."
    )
    decisions: list[LinkedDecision]
    events: list[CaseEventBody]
    card_decisions: list[DecisionSummary] = Field(
        description="The card's other recent decisions, newest first."
    )
    device_decisions: list[DecisionSummary] = Field(
        description="The device's other recent decisions, newest first."
    )


class CaseChange(BaseModel):
    case: CaseSummary
    changed: bool = Field(description="False: a repeat of the move that made the state.")


class OpenCaseRequest(_Body):
    transaction_id: Id
    note: Note | None = None


class NoteOnly(_Body):
    """The body of claim and reopen: `{}` or a note."""

    note: Note | None = None


class AssignRequest(_Body):
    assignee: KeyName = Field(description="The name of an API key with the analyst scope.")
    note: Note | None = None


class ResolveRequest(_Body):
    resolution: Resolution
    note: Note | None = None


class NoteRequest(_Body):
    note: Note
