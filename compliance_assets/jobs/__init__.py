"""Jobs beside the asset pipelines (key rotation, retention, privacy requests, the DPIA review) and how every run executes its steps."""
