"""The fraud typology of each row of a history file, when the file names it.

Beside the normalised history (which keeps only the schema's columns): the simulator writes
`fraud_scenario` ("none" or the typology), which the model card breaks recall down by.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow.parquet as pq

TYPOLOGY_COLUMN = "fraud_scenario"


def read_typology(path: Path, history: pd.DataFrame) -> npt.NDArray[np.object_] | None:
    """`fraud_scenario` of the file at `path`, aligned on `history`'s transaction ids ("none"
    where a row has none), or None when the file has no such column."""
    columns = ["transaction_id", TYPOLOGY_COLUMN]
    if path.suffix == ".parquet":
        if TYPOLOGY_COLUMN not in pq.read_schema(path).names:
            return None
        raw = pd.read_parquet(path, columns=columns)
    else:
        if TYPOLOGY_COLUMN not in pd.read_csv(path, nrows=0).columns:
            return None
        raw = pd.read_csv(path, usecols=columns, dtype=str, keep_default_na=False)
    by_id = raw.astype(str).drop_duplicates("transaction_id").set_index("transaction_id")
    found = history["transaction_id"].astype(str).map(by_id[TYPOLOGY_COLUMN])
    return found.fillna("none").replace("", "none").to_numpy(dtype=object)
