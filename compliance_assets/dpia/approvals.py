"""Approved DPIA states. A DPO's sign-off is pinned in the repository beside the DPIA
(`register/dpia/approved/<activity>.json`), so the deploy gate can refuse code that drifts from it;
approvals made later in a deployment live in its DPIA store. The newer of the two counts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from compliance_assets.dpia.fingerprint import Fingerprint

APPROVED_FOLDER = Path("dpia") / "approved"


@dataclass(frozen=True)
class Decision:
    activity: str
    fingerprint: Fingerprint
    decision: str
    approver: str
    comment: str
    decided_at: datetime


def pin_path(register_dir: Path, activity: str) -> Path:
    return Path(register_dir) / APPROVED_FOLDER / f"{activity}.json"


def read_pin(register_dir: Path, activity: str) -> Decision | None:
    path = pin_path(register_dir, activity)
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return Decision(activity, Fingerprint.from_json(data["fingerprint"]), "approve", data["approver"], data["comment"], datetime.fromisoformat(data["approved_at"]))


def write_pin(register_dir: Path, decision: Decision) -> Path:
    path = pin_path(register_dir, decision.activity)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {
        "activity": decision.activity,
        "approver": decision.approver,
        "comment": decision.comment,
        "approved_at": decision.decided_at.isoformat(timespec="seconds"),
        "digest": decision.fingerprint.digest,
        "fingerprint": decision.fingerprint.to_json(),
    }
    path.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def approved_state(pinned: Decision | None, stored: Decision | None) -> Decision | None:
    candidates = [d for d in (pinned, stored) if d is not None]
    return max(candidates, key=lambda d: d.decided_at) if candidates else None


def approval_of(register_dir: Path, store, activity: str) -> Decision | None:
    """The approval that counts: the repository's pin or the deployment's latest decision in
    `store` (a DPIA reviews resource; None reads the pin alone, as the deploy gate does)."""
    return approved_state(read_pin(register_dir, activity), store.latest_approval(activity) if store else None)
