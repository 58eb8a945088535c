"""The reference code location's resources: how it wires the plugin's resources from the
environment (`environment`). Not installed with the plugin; a team writes its own."""
