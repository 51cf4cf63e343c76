"""Download a file with progress and verify its MD5 before anyone may use it."""

from __future__ import annotations

import base64
import http.client
import os
import urllib.error
import urllib.request
from pathlib import Path

from pydantic import SecretStr
from tqdm.auto import tqdm

from elasticvit.config.settings import Settings
from elasticvit.data.errors import DatasetError
from elasticvit.utils.atomic import atomic_path
from elasticvit.utils.hashing import md5_file

_CHUNK = 1 << 16


def fetch_verified(url: str, dest: Path, md5: str, progress: bool = True, settings: Settings | None = None) -> Path:
    """Return ``dest`` holding the file at ``url`` whose MD5 is ``md5``.

    A cached ``dest`` with the right checksum is reused; a wrong one is downloaded again. The
    download goes to a temporary file that is renamed onto ``dest`` only after the checksum
    matches, so a failed or interrupted download never leaves a file under the final name. With
    ``download_username`` and ``download_password`` set (``ELASTICVIT_DOWNLOAD_*``), the request
    carries them as HTTP basic auth.
    """
    if dest.exists() and md5_file(dest) == md5:
        return dest
    settings = settings or Settings()
    with atomic_path(dest) as tmp:
        _download(url, tmp, progress, _basic_auth(settings.download_username, settings.download_password))
        actual = md5_file(tmp)
        if actual != md5:
            raise DatasetError(f"{url}: MD5 mismatch, expected {md5}, got {actual} (corrupt or truncated download)")
    return dest


def _basic_auth(username: str | None, password: SecretStr | None) -> dict[str, str]:
    if username is None and password is None:
        return {}
    token = f"{username or ''}:{password.get_secret_value() if password else ''}".encode()
    return {"Authorization": f"Basic {base64.b64encode(token).decode()}"}


def _download(url: str, path: Path, progress: bool, headers: dict[str, str]) -> None:
    try:
        request = urllib.request.Request(url, headers=headers)
        with urllib.request.urlopen(request, timeout=60) as resp, open(path, "wb") as out:
            total = int(resp.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=os.path.basename(url), disable=not progress) as bar:
                for chunk in iter(lambda: resp.read(_CHUNK), b""):
                    out.write(chunk)
                    bar.update(len(chunk))
            if total is not None and out.tell() != total:
                raise DatasetError(f"{url}: download truncated at {out.tell()} of {total} bytes")
    # URLError covers refused connections and HTTP errors; IncompleteRead (an HTTPException, not
    # an OSError) is a connection closed before Content-Length bytes arrived.
    except urllib.error.HTTPError as exc:
        hint = " (set ELASTICVIT_DOWNLOAD_USERNAME and ELASTICVIT_DOWNLOAD_PASSWORD)" if exc.code == 401 else ""
        raise DatasetError(f"{url}: download failed: {exc}{hint}") from exc
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        raise DatasetError(f"{url}: download failed: {exc}") from exc
