"""Prefect tasks: thin wrappers that call the elasticvit library and record to MLflow."""
