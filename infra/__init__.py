"""Starting the local stack (Prefect server, MLflow server, S3-compatible server) as processes."""
