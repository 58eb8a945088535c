"""The plugin's sensors: consent withdrawals and DPIA reviews, built from the register."""
