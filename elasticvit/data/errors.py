"""The one error type of dataset preparation."""

from elasticvit.errors import ElasticViTError


class DatasetError(ElasticViTError):
    """Input data is missing, corrupt or inconsistent; the message names the file or field."""
