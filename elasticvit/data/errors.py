"""The one error type of dataset preparation."""


class DatasetError(ValueError):
    """Input data is missing, corrupt or inconsistent; the message names the file or field."""
