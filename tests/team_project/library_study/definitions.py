from pathlib import Path

import dagster as dg


@dg.components.definitions
def defs() -> dg.Definitions:
    return dg.components.load_from_defs_folder(path_within_project=Path(__file__).parent)
