"""The allowance movement (roll-forward) from the previous month end to this one, by stage.

Both ends are measured from the same extract. The change of every loan's
allowance is attributed in a fixed order, so each stage column adds up to the
cent by construction:

1. new loans: closing ECL of loans not in the opening book;
2. repayments / derecognition: minus the opening ECL of loans that left the
   book other than by write-off;
3. write-offs: minus the opening ECL of loans written off in the period (the
   allowance used);
4. transfers between stages: for loans in both books whose stage changed, the
   opening ECL leaves the old stage's column and the opening-date ECL measured
   at the new stage (same date, same parameters) enters the new one;
5. recoveries of amounts written off earlier: credited to stage 3;
6. changes in risk parameters (the remeasurement, by construction the rest):
   closing ECL less the opening-date ECL at the closing stage, per continuing
   loan, less the recoveries credited in 5 (released through the charge since
   written-off loans carry no allowance).
"""
from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

STAGES = (1, 2, 3)
ROWS = ["opening", "new_loans", "repayments_derecognised", "write_offs", "transfers_between_stages",
        "recoveries", "changes_in_risk_parameters", "closing"]


def allowance_movement(opening: pd.DataFrame, closing: pd.DataFrame, opening_at_closing_stage: Mapping[str, int],
                       written_off: set[str], recoveries_cents: int) -> pd.DataFrame:
    """Rows of ROWS, columns stage_1, stage_2, stage_3, total (cents).

    `opening` / `closing`: contract_id, stage, ecl_cents at each end.
    `opening_at_closing_stage`: contract_id → opening-date ECL measured at the closing
    stage, for every continuing loan whose stage changed.
    """
    cells = {row: {s: 0 for s in STAGES} for row in ROWS}
    before = {r.contract_id: (int(r.stage), int(r.ecl_cents)) for r in opening.itertuples(index=False)}
    after = {r.contract_id: (int(r.stage), int(r.ecl_cents)) for r in closing.itertuples(index=False)}
    for cid, (stage, ecl) in before.items():
        cells["opening"][stage] += ecl
        if cid not in after:
            cells["write_offs" if cid in written_off else "repayments_derecognised"][stage] -= ecl
    for cid, (stage, ecl) in after.items():
        cells["closing"][stage] += ecl
        if cid not in before:
            cells["new_loans"][stage] += ecl
            continue
        old_stage, old_ecl = before[cid]
        restated = old_ecl
        if old_stage != stage:
            restated = int(opening_at_closing_stage[cid])
            cells["transfers_between_stages"][old_stage] -= old_ecl
            cells["transfers_between_stages"][stage] += restated
        cells["changes_in_risk_parameters"][stage] += ecl - restated
    cells["recoveries"][3] += recoveries_cents
    cells["changes_in_risk_parameters"][3] -= recoveries_cents
    frame = pd.DataFrame([{"line": row, **{f"stage_{s}": cells[row][s] for s in STAGES}} for row in ROWS])
    frame["total"] = frame[[f"stage_{s}" for s in STAGES]].sum(axis=1)
    return frame.astype({c: "int64" for c in ["stage_1", "stage_2", "stage_3", "total"]})


def reconciles(movement: pd.DataFrame) -> bool:
    """Opening plus every movement line equals closing, per stage and in total, to the cent."""
    lines = movement.set_index("line")
    moves = lines.drop(index=["opening", "closing"]).sum()
    return bool(((lines.loc["opening"] + moves) == lines.loc["closing"]).all())
