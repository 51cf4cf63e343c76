-- One database per service on the shared Postgres.
CREATE DATABASE prefect;
CREATE DATABASE mlflow;
