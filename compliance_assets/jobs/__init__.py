"""Op-based Dagster jobs that are not asset materialisations: key rotation."""
