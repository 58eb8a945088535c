"""Reports a DPO reads: the DPIA, the record of processing activities, the AI processing schedule
and the 10-point checklist. Plain functions from register, fingerprints and check results to
Markdown, HTML, JSON and YAML; the Dagster layer (`jobs/dpia.py`) feeds them and shows them."""
