"""A picture of the report page as a browser draws it: headless Chromium, when the machine has one.

Used to check that the page renders (tests) and to make the README's screenshot:

    python -m elasticvit.report.screenshot artifacts/quickstart/report/index.html docs/images/report.png
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")
# Without the background-networking flags Chromium keeps trying to reach Google's hosts, which a
# closed network refuses; a fresh profile keeps one run from seeing another's state.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars")


class NoBrowserError(RuntimeError):
    """No Chromium-compatible browser on PATH (or in ``$CHROMIUM``)."""


def find_browser() -> str | None:
    """``$CHROMIUM`` if set, else the first of ``BROWSERS`` on PATH."""
    env = os.environ.get("CHROMIUM")
    return env or next((path for name in BROWSERS if (path := shutil.which(name))), None)


def screenshot(page: str | os.PathLike[str], png: str | os.PathLike[str], width: int = 1280, height: int = 1600,
               timeout_s: float = 60.0) -> Path:
    """Draw ``page`` (a local HTML file) at ``width`` x ``height`` into ``png``; return ``png``."""
    browser = find_browser()
    if browser is None:
        raise NoBrowserError(f"no browser found (tried $CHROMIUM, {', '.join(BROWSERS)}): install Chromium")
    out = Path(png).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="elasticvit-chromium-") as profile:
        tmp = out.with_name(f".{out.name}.tmp.png")
        subprocess.run(
            [browser, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
             f"--screenshot={tmp}", Path(page).resolve().as_uri()],
            check=True, capture_output=True, timeout=timeout_s,
        )
        if not tmp.exists():
            raise RuntimeError(f"{browser} wrote no screenshot of {page}")
        tmp.replace(out)  # a half-written picture never takes the name
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="screenshot a report page in headless Chromium")
    parser.add_argument("page", type=Path)
    parser.add_argument("png", type=Path)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=1600)
    args = parser.parse_args(argv)
    print(screenshot(args.page, args.png, args.width, args.height))


if __name__ == "__main__":
    main()
