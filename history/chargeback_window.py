"""The chargeback window: how long after a payment it may still turn out to be fraud, and what
an unlabelled transaction of a live export means once that window has passed.

record -> `riskscore history export --unlabelled-after-days` / `riskscore train
--unlabelled-after-days` -> `settle_unlabelled` (this one definition for both) -> training.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas is the training extra; the CLI reads the window without it
    import pandas as pd

# Card schemes let a cardholder dispute a payment for up to 120 days: a transaction nobody
# labelled in that time is legitimate for training. The record keeps decisions longer
# (record/partitions.py), so the label of every kept transaction can still arrive.
CHARGEBACK_WINDOW_DAYS = 120


@dataclass(frozen=True)
class Settlement:
    """What `settle_unlabelled` did to a history."""

    after_days: int
    as_of: pd.Timestamp
    legitimate: int  # unlabelled, the window passed: now labelled legitimate
    dropped: int  # still inside the window: not known yet
    dropped_labelled: int  # of those, the ones labelled already

    def describe(self) -> str:
        return (
            f"chargeback window {self.after_days} days (as of {self.as_of.isoformat()}): "
            f"{self.legitimate:,} unlabelled transactions past it taken as legitimate; "
            f"{self.dropped:,} still inside it left out ({self.dropped_labelled:,} of them "
            "labelled)"
        )


def settle_unlabelled(
    history: pd.DataFrame, after_days: int, as_of: pd.Timestamp
) -> tuple[pd.DataFrame, Settlement]:
    """`history` (normalised) with every row labelled, as known at `as_of`: a transaction made
    at least `after_days` before `as_of` keeps its label, or, unlabelled, becomes legitimate
    (`is_fraud` 0, its label known when the window closed, `timestamp + after_days`). A younger
    one is left out, labelled or not: the others of its days are not known yet, and its early
    chargebacks alone would overstate their fraud rate. What is kept is a time prefix, so no
    kept row's point-in-time features change. Rows keep their order; the index is renumbered."""
    if after_days < 1:
        raise ValueError(f"after_days must be at least 1 day, not {after_days}")
    import pandas as pd

    unlabelled = history["is_fraud"].isna()
    closed_at = history["timestamp"] + pd.Timedelta(days=after_days)
    past = closed_at <= as_of
    settled = unlabelled & past
    labelled = history.assign(
        is_fraud=history["is_fraud"].mask(settled, 0.0),
        label_timestamp=history["label_timestamp"].mask(settled, closed_at),
    )
    kept = labelled[past].reset_index(drop=True)
    inside = ~past
    counts = Settlement(
        after_days, as_of, int(settled.sum()), int(inside.sum()), int((inside & ~unlabelled).sum())
    )
    return kept, counts


def newest_time(history: pd.DataFrame) -> pd.Timestamp:
    """The latest moment a history file vouches for: its newest transaction or label. A file
    knows no label reported after it, so its unlabelled rows are settled as of this time."""
    import pandas as pd

    times = pd.concat([history["timestamp"], history["label_timestamp"]]).dropna()
    return pd.Timestamp(times.max())
