# The MLflow server of the team stack: the official image plus the Postgres and S3 drivers, installed
# at build time (pinned) rather than at every container start.
FROM ghcr.io/mlflow/mlflow:v3.17.2
RUN pip install --no-cache-dir psycopg2-binary==2.9.13 boto3==1.43.117
# The backend URI is assembled from the environment (infra/.env) inside the container, so the
# database password never appears on a command line.
ENTRYPOINT ["sh", "-c", "export MLFLOW_BACKEND_STORE_URI=\"postgresql://${POSTGRES_USER}:${POSTGRES_PASSWORD}@postgres:5432/mlflow\" && exec mlflow server \"$@\"", "mlflow"]
