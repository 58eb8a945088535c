"""The membership export: generated here, read from the library's system in real life."""

import numpy as np
import pandas as pd

BRANCHES = ["Nord", "Sued", "Mitte"]


def load_members(context) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    count = 1200
    return pd.DataFrame(
        {
            "member_id": [f"M{number:06d}" for number in range(count)],
            "age": rng.integers(18, 90, count),
            "branch": rng.choice(BRANCHES, count),
            "loans": rng.poisson(12, count),
        }
    )
