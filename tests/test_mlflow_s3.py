"""A real ``mlflow server`` (SQLite backend) proxies artifacts to a real S3-compatible server."""

from __future__ import annotations

from pathlib import Path

import boto3
import mlflow
import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import S3_CREDENTIALS

pytestmark = pytest.mark.servers


def test_run_artifacts_land_in_s3(tmp_path: Path, mlflow_server: dict[str, str], s3_env: str) -> None:
    mlflow.set_tracking_uri(mlflow_server["uri"])
    mlflow.set_experiment("s3-artifacts")
    report = tmp_path / "report.json"
    report.write_text('{"accuracy": 0.5}')
    with mlflow.start_run(tags={"device": "torch-cpu-1t"}) as run:
        mlflow.log_metric("val_acc", 0.5)
        mlflow.log_artifact(str(report), artifact_path="reports")

    client = MlflowClient()
    assert [a.path for a in client.list_artifacts(run.info.run_id, "reports")] == ["reports/report.json"]

    s3 = boto3.client(
        "s3",
        endpoint_url=mlflow_server["s3"],
        aws_access_key_id=S3_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=S3_CREDENTIALS["AWS_DEFAULT_REGION"],
    )
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=mlflow_server["bucket"]).get("Contents", [])]
    ours = [k for k in keys if run.info.run_id in k and k.endswith("reports/report.json")]
    assert len(ours) == 1, keys
    body = s3.get_object(Bucket=mlflow_server["bucket"], Key=ours[0])["Body"].read()
    assert body == report.read_bytes()
