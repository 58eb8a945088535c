"""pyCANON (https://github.com/IFCA-Advanced-Computing/pycanon) measuring k on the same frame, as
the named peer of the cohort release. It pins numpy 2.0 and pandas 2.3, so it lives in its own
virtual environment (`.venv-pycanon`, made on first use) and runs in its own process; the frame
crosses over as CSV and only the `k_anonymity` call is timed."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

VERSION = "1.3.6"
VENV = Path(__file__).resolve().parents[1] / ".venv-pycanon"
PYTHON = VENV / "bin" / "python"
MEASURE = """
import json, sys, time
import pandas as pd
from pycanon import anonymity
frame = pd.read_csv(sys.argv[1], dtype="string")
quasi_identifiers = json.loads(sys.argv[2])
best, k = float("inf"), None
for _ in range(int(sys.argv[3])):
    started = time.perf_counter()
    k = anonymity.k_anonymity(frame, quasi_identifiers)
    best = min(best, time.perf_counter() - started)
print(json.dumps({"seconds": best, "k": int(k), "version": __import__("pycanon").__version__}))
"""


def ensure_venv() -> Path:
    """The peer's environment, created with pip on first use (PyPI must be reachable)."""
    if not (VENV / f".pycanon-{VERSION}").exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        # from inside the venv's folder, so pip does not take this checkout for an installed package
        subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", f"pycanon=={VERSION}"], check=True, cwd=VENV)
        (VENV / f".pycanon-{VERSION}").touch()
    return PYTHON


def k_anonymity_seconds(frame: pd.DataFrame, quasi_identifiers: list[str], repeats: int = 2) -> dict:
    """pyCANON's best time for measuring k of `frame` over `quasi_identifiers`, and the k it found."""
    python = ensure_venv()
    with tempfile.TemporaryDirectory(prefix="pycanon-") as folder:
        path = Path(folder) / "frame.csv"
        frame[quasi_identifiers].to_csv(path, index=False)
        completed = subprocess.run(
            [str(python), "-c", MEASURE, str(path), json.dumps(quasi_identifiers), str(repeats)],
            capture_output=True, text=True, check=True,
        )
    return json.loads(completed.stdout.strip().splitlines()[-1])
