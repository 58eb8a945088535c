"""Services around the mapping vault: audited re-identification and key rotation."""
