"""The report page: one self-contained HTML file, every text value escaped.

Figures are embedded as base64 ``data:`` URIs, and each also links to its PNG beside the page.
Embedded because the page must render where people open it: MLflow's artifact viewer loads an HTML
artifact from a ``blob:`` URL, where a relative ``<img src="x.png">`` resolves to nothing, and a page
downloaded or mailed on its own keeps its pictures. The PNG files stay beside it (a few hundred kB
the page carries twice) for slides and for MLflow's own image preview.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from elasticvit.baselines.compare import ComparisonRow, ParetoPoint, row_cells
from elasticvit.export.run import ExportedModel
from elasticvit.report.breakdown import FIXED, LatencyBreakdown, Split, parts

if TYPE_CHECKING:
    from elasticvit.report.build import RunReport

INDEX_HTML = "index.html"
CURVE_PNG = "training-curve.png"
BREAKDOWN_PNG: dict[Split, str] = {"kind": "latency-by-kind.png", "stage": "latency-by-stage.png"}


def pareto_png(device: str) -> str:
    """The file name of a device's Pareto plot (anything but letters, digits, ``.-_`` becomes ``_``)."""
    return f"pareto-{re.sub(r'[^A-Za-z0-9._-]', '_', device)}.png"


def render_html(report: RunReport, folder: str | Path) -> str:
    """The page of ``report``, embedding the PNGs already written in ``folder``."""
    folder = Path(folder)
    body = [f"<h1>{_e(report.title)}</h1>", _warnings(report.warnings), _facts(report.facts), _stages(report.stage_s),
            _contents(report)]
    for export in report.exports:
        body.append(_device_section(report, export.device, export.models, folder))
    body.append(_training_section(report, folder))
    body.append(_latency_section(report, folder))
    return _PAGE.format(title=_e(report.title), body="\n".join(b for b in body if b))


def verdict(row: ComparisonRow, names: Mapping[str, str]) -> str:
    """One plain sentence: whether the searched subnets beat the baseline, or by how much it still wins.

    ``names`` gives chosen subnets' readable names by arch id; other subnets are "a searched subnet".
    """
    gain, speedup = row.accuracy_gain, row.speedup_at_accuracy
    at_latency = names.get(row.subnet_at_latency or "", "a searched subnet")
    at_accuracy = names.get(row.subnet_at_accuracy or "", "a searched subnet")
    if (gain is not None and gain > 0) or (speedup is not None and speedup > 1):
        reasons = []
        if gain is not None and gain > 0:
            reasons.append(f"{at_latency} is {100 * gain:.1f} pts more accurate at no more latency")
        if speedup is not None and speedup > 1:
            reasons.append(f"{at_accuracy} is {speedup:.2f}x faster at no less accuracy")
        return f"{row.baseline} is beaten: " + "; ".join(reasons) + "."
    if gain == 0 and speedup == 1:
        return f"{row.baseline} ties with {at_latency}: same accuracy, same latency."
    if gain is None:
        on_speed = f"no searched subnet is as fast ({row.baseline_ms:.3g} ms)"
    else:
        on_speed = f"it is {-100 * gain:.1f} pts more accurate than the best subnet no slower ({at_latency})"
    if speedup is None:
        on_accuracy = f"no searched subnet reaches its accuracy ({_pct(row.baseline_acc)})"
    else:
        on_accuracy = f"it is {1 / speedup:.2f}x faster than the fastest subnet as accurate ({at_accuracy})"
    return f"{row.baseline} still wins: {on_speed}; {on_accuracy}."


def versus(model: ExportedModel, baseline: ParetoPoint) -> str:
    """The chosen subnet against one baseline on its device: accuracy and speed, then who wins."""
    latency = _latency(model)
    gain, ratio = model.val_accuracy - baseline.accuracy, baseline.latency_ms / latency
    speed = f"{ratio:.2f}x faster" if ratio >= 1 else f"{1 / ratio:.2f}x slower"
    figures = f"{100 * gain:+.1f} pts, {speed}"
    if gain >= 0 and ratio >= 1:
        return f"beats {baseline.name} ({figures})"
    if gain <= 0 and ratio <= 1:
        return f"{baseline.name} wins ({figures})"
    return f"trade-off with {baseline.name} ({figures})"


# --- sections -----------------------------------------------------------------------------------


def _facts(facts: Mapping[str, str]) -> str:
    if not facts:
        return ""
    items = "".join(f"<li><b>{_e(k)}</b>: {_e(v)}</li>" for k, v in facts.items())
    return f'<ul class="facts">{items}</ul>'


def _warnings(warnings: Sequence[str]) -> str:
    if not warnings:
        return ""
    items = "".join(f"<li>{_e(w)}</li>" for w in warnings)
    return f'<div class="warning"><b>Too short to trust yet:</b><ul>{items}</ul></div>'


def _stages(stage_s: Mapping[str, float]) -> str:
    if not stage_s:
        return ""
    total = sum(stage_s.values())
    cells = ", ".join(f"{_e(name)} {seconds:.0f} s" for name, seconds in stage_s.items())
    return f'<p class="note">Wall time {total / 60:.1f} min: {cells}.</p>'


def _contents(report: RunReport) -> str:
    links = [(f"device-{i}", f"Device {d}") for i, d in enumerate(report.devices)]
    links += [("training", "Supernet training"), ("latency", "Where the latency goes")]
    return "<nav>" + " · ".join(f'<a href="#{a}">{_e(t)}</a>' for a, t in links) + "</nav>"


def _device_section(report: RunReport, device: str, models: Sequence[ExportedModel], folder: Path) -> str:
    index = report.devices.index(device)
    pareto = report.pareto(device)
    baselines = pareto.baselines if pareto is not None else []
    out = [f'<section id="device-{index}"><h2>Device {_e(device)}</h2>']
    out.append(_figure(folder / pareto_png(device),
                          f"{device}: accuracy vs latency of the searched subnets, the front, the chosen subnets "
                          "(stars) and the baselines"))
    out.append("<h3>Chosen subnets</h3>")
    header = ["subnet", "budget (ms)", "arch", "val top-1", "test top-1", "latency (ms)", "predicted (ms)",
              "MACs (M)", "params (M)"]
    if baselines:
        header.append("against the baselines")
    rows = []
    for m in models:
        measured = f"{m.measured_ms:.3f}" if m.measured_ms is not None else "not measured"
        row = [m.name, f"{m.budget_ms:.3f}", _Code(m.arch_id), _pct(m.val_accuracy), _pct(m.test_accuracy),
               measured, f"{m.predicted_ms:.3f}", _millions(m.macs), _millions(m.params)]
        if baselines:
            row.append("; ".join(versus(m, b) for b in baselines))
        rows.append(row)
    out.append(_table(header, rows))
    out.append("<h3>Baselines</h3>")
    out.append(_baselines(report, device))
    out.append("</section>")
    return "\n".join(out)


def _baselines(report: RunReport, device: str) -> str:
    rows = [r for r in report.comparison.rows if r.device == device]
    if not rows:
        return "<p>No baselines in this run (<code>baselines.models</code> is empty).</p>"
    names = {m.arch_id: m.name for m in _models(report, device)}
    test = {b.model: b.test_accuracy for b in report.baselines}
    header = ["baseline", "val top-1", "test top-1", "latency (ms)", "best subnet no slower", "accuracy gain",
              "fastest subnet no less accurate", "speed-up", "verdict"]
    body = []
    for r in rows:
        at_latency, gain, at_accuracy, speedup = row_cells(r, _pct, 3)
        body.append([r.baseline, _pct(r.baseline_acc), _pct(test.get(r.baseline)), f"{r.baseline_ms:.3f}",
                     at_latency, gain, at_accuracy, speedup, verdict(r, names)])
    note = ('<p class="note">The comparison is on val top-1 (a baseline\'s test top-1 is shown beside it). Subnet '
            "latencies are measured end to end where the search timed them (the chosen subnets) and predicted "
            "from the table otherwise; baselines are measured.</p>")
    return _table(header, body) + note


def _training_section(report: RunReport, folder: Path) -> str:
    head = '<section id="training"><h2>Supernet training</h2>'
    curve = report.curve
    if curve is None or not curve.epochs:
        return head + "<p>No training history was found for this run.</p></section>"
    final = ", ".join(f"{name} {_pct(values[-1])}" for name, values in curve.accuracy.items())
    text = f"<p>{len(curve.epochs)} epochs; val top-1 after the last: {_e(final)}.</p>"
    figure = _figure(folder / CURVE_PNG, "Val top-1 of the probe subnets after each epoch, and the mean train loss")
    return head + text + figure + "</section>"


def _latency_section(report: RunReport, folder: Path) -> str:
    out = ['<section id="latency"><h2>Where the latency goes</h2>']
    if not report.breakdowns:
        out.append("<p>No latency tables were found for this run.</p></section>")
        return "\n".join(out)
    out.append(
        "<p>Every chosen subnet's predicted latency on every device, split by block kind and by stage from "
        "the devices' latency tables: each block's table entry with the device's correction applied "
        f"(scale, per-block and activation terms), plus <code>{FIXED}</code>, the correction's offset that belongs to no block "
        "(it can be negative). Each row adds up to the subnet's predicted latency. A subnet is chosen on the "
        "device whose rows are in <b>bold</b>; comparing its rows across devices shows which kinds of block "
        "each device makes expensive.</p>"
    )
    chosen_for = {m.name: m.device for e in report.exports for m in e.models}
    splits: tuple[tuple[Split, str], ...] = (("kind", "block kind"), ("stage", "stage"))
    for by, caption in splits:
        out.append(f"<h3>Per {caption}</h3>")
        out.append(_figure(folder / BREAKDOWN_PNG[by], f"Predicted latency per {caption}, one bar per chosen subnet "
                                                       "and device"))
        out.append(_breakdown_table(report.breakdowns, by, chosen_for))
    out.append("</section>")
    return "\n".join(out)


def _breakdown_table(breakdowns: Sequence[LatencyBreakdown], by: Split, chosen_for: Mapping[str, str]) -> str:
    names = parts(breakdowns, by)
    header = ["subnet", "on device", *names, "predicted (ms)"]
    rows, bold = [], []
    for b in breakdowns:
        values = b.split(by)
        cells = [_share(values[n], b.predicted_ms) if n in values else "-" for n in names]
        rows.append([b.subnet, b.device, *cells, f"{b.predicted_ms:.3f}"])
        bold.append(chosen_for.get(b.subnet) == b.device)
    return _table(header, rows, bold)


# --- helpers ------------------------------------------------------------------------------------


class _Code(str):
    """A cell shown as code (still escaped)."""


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], bold: Sequence[bool] = ()) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    lines = []
    for i, row in enumerate(rows):
        cls = ' class="chosen"' if i < len(bold) and bold[i] else ""
        cells = "".join(f"<td><code>{_e(c)}</code></td>" if isinstance(c, _Code) else f"<td>{_e(c)}</td>" for c in row)
        lines.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(lines)}</tbody></table>"


def _figure(path: Path, caption: str) -> str:
    if not path.exists():
        return ""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    name = _e(path.name)
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{_e(caption)}">'
            f'<figcaption>{_e(caption)} (<a href="{name}">{name}</a>)</figcaption></figure>')


def _models(report: RunReport, device: str) -> list[ExportedModel]:
    return [m for e in report.exports if e.device == device for m in e.models]


def _latency(model: ExportedModel) -> float:
    return model.measured_ms if model.measured_ms is not None else model.predicted_ms


def _share(ms: float, total_ms: float) -> str:
    return f"{ms:.3f} ({ms / total_ms:.0%})" if total_ms else f"{ms:.3f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def _millions(value: int | None) -> str:
    return "-" if value is None else f"{value / 1e6:.2f}"


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 78em; padding: 0 1em; color: #222; }}
nav a {{ margin: 0 .3em; }}
table {{ border-collapse: collapse; margin: .5em 0 1em; font-size: .88em; }}
th, td {{ border: 1px solid #ccc; padding: .25em .5em; text-align: left; vertical-align: top; }}
th {{ background: #f2f2f2; }}
tr.chosen td {{ font-weight: bold; }}
code {{ word-break: break-all; font-size: .92em; }}
figure {{ margin: 1em 0; }}
figure img {{ max-width: 100%; }}
figcaption, .note {{ color: #555; font-size: .85em; }}
ul.facts {{ list-style: none; padding: 0; color: #444; }}
div.warning {{ background: #fff4e0; border-left: 4px solid #e69500; padding: .4em 1em; }}
</style>
</head>
<body>
{body}
</body>
</html>
"""
