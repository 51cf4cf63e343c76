"""Benchmark: the README's first command as a new user runs it, on a fresh clone.

Clones the repository's committed HEAD into a temporary folder, takes the set-up command from the
README's first ``bash`` block that runs ``elasticvit quickstart`` (``install && quickstart``), and
runs its two halves there exactly as written: the install, then the quickstart (timed, with the
peak resident memory of the quickstart's process tree; the Prefect and MLflow servers it leaves
running in the background are not part of that tree). Then runs the quickstart a second time, which
should reuse every cached stage, stops the servers, and writes ``bench/results/quickstart.json``
from the first run's report (``artifacts/quickstart/report/report.json``; with Chromium installed,
also the page's screenshot ``docs/images/quickstart-report.png`` that the README shows):

    {"wall_s": W, "latency_s": L, "install_s": I, "peak_rss_mb": M, "second_run_s": S,
     "devices": {"NAME": {"subnet_test_acc": A, "subnet_ms": MS,
                          "baselines": [{"model": B, "test_acc": C, "ms": D}]}}, ...}

``subnet_test_acc`` and ``subnet_ms`` are the device's chosen subnet's (the lowest test accuracy of
the device's chosen subnets where it has several budgets).

    python -m bench.quickstart
    python -m bench.quickstart --keep /tmp/qs-clone       # keep the clone to inspect
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from elasticvit.report import INDEX_HTML, REPORT_JSON, RunReport, verdict
from elasticvit.report.screenshot import find_browser, screenshot
from elasticvit.utils.atomic import write_json

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "quickstart.json"
SCREENSHOT = ROOT / "docs" / "images" / "quickstart-report.png"
REPORT = Path("artifacts/quickstart/report") / REPORT_JSON
# Runs a shell command and prints the peak RSS (kB on Linux) of the processes it waited for.
_PEAK_RSS = (
    "import resource, subprocess, sys; rc = subprocess.run(sys.argv[1], shell=True).returncode; "
    "print('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(rc)"
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, default=None, help="clone here and keep it (default: a temp folder)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    install, quickstart = readme_commands(ROOT / "README.md")
    work = args.keep or Path(tempfile.mkdtemp(prefix="elasticvit-quickstart-"))
    clone = work / "elasticvit"
    if clone.exists():
        shutil.rmtree(clone)
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=clone, check=True, capture_output=True, text=True)
    print(f"clone of {commit.stdout.strip()[:10]} in {clone}", flush=True)
    try:
        install_s, _ = run_timed(install, clone, work / "install.log")
        wall_s, peak_kb = run_timed(quickstart, clone, work / "quickstart.log")
        # the second run rewrites the report (with its own, cached, stage times): keep the first's
        first = work / "first-report"
        shutil.copytree(clone / REPORT.parent, first, dirs_exist_ok=True)
        second_s, _ = run_timed(quickstart, clone, work / "quickstart-2.log")
    finally:
        subprocess.run(["bash", "-c", ".venv/bin/python -m infra.stack down"], cwd=clone, check=False)
    report = RunReport.model_validate_json((first / REPORT_JSON).read_text())
    if find_browser() is not None:  # the picture the README shows
        screenshot(first / INDEX_HTML, SCREENSHOT, width=1280, height=1800)
    result = {
        "commit": commit.stdout.strip(),
        "install_command": install,
        "quickstart_command": quickstart,
        "install_s": round(install_s, 1),
        "wall_s": round(wall_s, 1),
        "peak_rss_mb": round(peak_kb / 1024),
        "second_run_s": round(second_s, 1),
        **summarize(report),
    }
    write_json(args.out, result)
    print(json.dumps(result, indent=2))
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


def readme_commands(readme: Path) -> tuple[str, str]:
    """The install and the quickstart halves of the README's ``install && quickstart`` line."""
    for block in re.findall(r"```bash\n(.*?)```", readme.read_text(), flags=re.S):
        for line in block.splitlines():
            if "elasticvit quickstart" in line:
                install, sep, quickstart = line.partition(" && ")
                if not sep:
                    raise ValueError(f"{readme}: expected '<install> && <quickstart>', got {line!r}")
                return install.strip(), quickstart.strip()
    raise ValueError(f"{readme}: no bash block runs 'elasticvit quickstart'")


def run_timed(command: str, cwd: Path, log: Path) -> tuple[float, int]:
    """Run ``command`` in ``cwd`` (output to ``log``); its wall seconds and peak RSS in kB."""
    print(f"$ {command}   (log: {log})", flush=True)
    started = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.run([sys.executable, "-c", _PEAK_RSS, command], cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    elapsed = time.perf_counter() - started
    text = log.read_text()
    if proc.returncode != 0:
        raise SystemExit(f"'{command}' failed with exit code {proc.returncode}; the end of {log}:\n{text[-3000:]}")
    peak = re.findall(r"PEAK_RSS_KB (\d+)", text)
    print(f"  {elapsed:.0f} s", flush=True)
    return elapsed, int(peak[-1]) if peak else 0


def summarize(report: RunReport) -> dict:
    """The figures the issue asks for, from the run's report."""
    devices = {}
    for export in report.exports:
        weakest = min(export.models, key=lambda m: m.test_accuracy)
        devices[export.device] = {
            "subnet_test_acc": weakest.test_accuracy,
            "subnet_ms": weakest.measured_ms if weakest.measured_ms is not None else weakest.predicted_ms,
            "subnet_val_acc": weakest.val_accuracy,
            "subnet_arch": weakest.arch_id,
            "baselines": [
                {"model": b.model, "test_acc": b.test_accuracy, "ms": b.latency_ms(export.device)}
                for b in report.baselines
                if export.device in b.latency
            ],
        }
    return {
        "latency_s": round(report.stage_s.get("latency", 0.0), 1),
        "stage_s": {k: round(v, 1) for k, v in report.stage_s.items()},
        "devices": devices,
        "verdicts": [f"{r.device}: {verdict(r, {})}" for r in report.comparison.rows],
        "warnings": report.warnings,
    }


if __name__ == "__main__":
    main()
