"""The reference code location's schedules and sensors beside the plugin's own. Not installed
with the plugin; a team writes its own."""
