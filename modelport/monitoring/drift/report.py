"""A drift result for people: a text table (the CLI) and a self-contained HTML page (no script,
every value escaped; the bars are inline SVG)."""

from __future__ import annotations

import html
from typing import Any

__all__ = ["html_report", "ordered_features", "text_table"]


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def ordered_features(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Drifted features first, then by how far each went (distances high, p-values low)."""

    def key(f: dict[str, Any]) -> tuple[int, float]:
        value = f.get("value")
        if value is None:
            return (2, 0.0)
        far = -value if f["method"] in ("wasserstein", "jensenshannon") else value
        return (0 if f["drifted"] else 1, far)

    return sorted(result["features"], key=key)


def summary_lines(result: dict[str, Any]) -> list[str]:
    where = f"service {result['service_name']}, " if result.get("service_name") else ""
    verdict = "DRIFT" if result["has_drift"] else "no drift"
    return [
        f"{where}window {result['start_date']} .. {result['end_date']}: {verdict}",
        f"drift share {result['drift_share']:.3f} (threshold {result['drift_threshold']:g}): "
        f"{len(result['drifted_features'])} of {result['tested_features']} features drifted",
        f"rows: baseline {result['baseline_rows']}, target {result['target_rows']}",
    ]


def text_table(result: dict[str, Any], limit: int | None = 20) -> str:
    """The summary, then the features (drifted first; ``limit`` rows, None for all)."""
    rows = ordered_features(result)
    shown = rows if limit is None else rows[:limit]
    columns = ["feature", "kind", "test", "value", "threshold", "drifted", "p", "psi"]
    cells = [columns] + [
        [
            str(f["name"]),
            f["kind"],
            f["method"],
            _fmt(f["value"]),
            _fmt(f["threshold"]),
            "yes" if f["drifted"] else "no",
            _fmt(f.get("p_value")),
            _fmt(f.get("psi")),
        ]
        for f in shown
    ]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = [*summary_lines(result), ""]
    for r in cells:
        lines.append("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
    if len(rows) > len(shown):
        lines.append(f"... {len(rows) - len(shown)} more features (--all shows them)")
    return "\n".join(lines)


_STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1f2328;margin:24px;}
h1{font-size:20px}h2{font-size:16px;margin-top:24px}
table{border-collapse:collapse;font-size:13px}
td,th{border-bottom:1px solid #d0d7de;padding:3px 8px;text-align:left}
th{background:#f6f8fa}.drift{color:#cf222e;font-weight:600}.ok{color:#1a7f37}
.num{text-align:right;font-variant-numeric:tabular-nums}.muted{color:#57606a}
"""


def _bars(features: list[dict[str, Any]], limit: int = 40) -> str:
    shown = [
        f for f in features if f.get("value") is not None and f["method"] in ("wasserstein", "jensenshannon")
    ]
    shown = shown[:limit]
    if not shown:
        return ""
    width, row = 640, 16
    top = max(max(f["value"] for f in shown), max(f["threshold"] for f in shown)) or 1.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{row * len(shown) + 20}" '
        'role="img" aria-label="distance per feature">'
    ]
    for i, f in enumerate(shown):
        w = int((width - 160) * f["value"] / top)
        color = "#cf222e" if f["drifted"] else "#0969da"
        y = i * row
        parts.append(
            f'<text x="0" y="{y + 12}" font-size="11">{html.escape(str(f["name"]))[:24]}</text>'
            f'<rect x="150" y="{y + 3}" width="{max(w, 1)}" height="{row - 5}" fill="{color}"/>'
        )
    tx = 150 + int((width - 160) * shown[0]["threshold"] / top)
    parts.append(
        f'<line x1="{tx}" y1="0" x2="{tx}" y2="{row * len(shown)}" stroke="#57606a" stroke-dasharray="4"/>'
    )
    parts.append("</svg>")
    return "".join(parts)


def html_report(result: dict[str, Any], detector: str) -> str:
    """A standalone HTML page of ``result`` (one window of detector ``detector``)."""
    e = html.escape
    features = ordered_features(result)
    verdict = (
        '<span class="drift">drift</span>' if result["has_drift"] else '<span class="ok">no drift</span>'
    )
    rows = []
    for f in features:
        b, t = f.get("baseline") or {}, f.get("target") or {}
        cls = ' class="drift"' if f["drifted"] else ""
        rows.append(
            "<tr>"
            f"<td{cls}>{e(str(f['name']))}</td><td>{e(f['kind'])}</td><td>{e(f['method'])}</td>"
            f'<td class="num">{e(_fmt(f["value"]))}</td><td class="num">{e(_fmt(f["threshold"]))}</td>'
            f"<td{cls}>{'yes' if f['drifted'] else 'no'}</td>"
            f'<td class="num">{e(_fmt(f.get("p_value")))}</td><td class="num">{e(_fmt(f.get("psi")))}</td>'
            f'<td class="num">{e(_fmt(b.get("mean")))}</td><td class="num">{e(_fmt(t.get("mean")))}</td>'
            f'<td class="num">{e(_fmt(b.get("min")))} .. {e(_fmt(b.get("max")))}</td>'
            f'<td class="num">{e(_fmt(t.get("min")))} .. {e(_fmt(t.get("max")))}</td>'
            "</tr>"
        )
    summary = "".join(f"<p>{e(line)}</p>" for line in summary_lines(result))
    head = (
        "<tr><th>feature</th><th>kind</th><th>test</th><th>value</th><th>threshold</th><th>drifted</th>"
        "<th>p</th><th>PSI</th><th>baseline mean</th><th>target mean</th><th>baseline range</th>"
        "<th>target range</th></tr>"
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Drift: {e(detector)} {e(result['start_date'])}</title><style>{_STYLE}</style></head><body>"
        f"<h1>Data drift: {e(detector)} — {verdict}</h1>{summary}"
        '<p class="muted">Drift share: the fraction of the features tested that drifted. Numbers: '
        "Kolmogorov-Smirnov (p below the threshold) with 1,000 rows or fewer, else the Wasserstein "
        "distance over the baseline's standard deviation (at or above the threshold, confirmed by KS); "
        "categories: chi-squared, else Jensen-Shannon. See docs/monitoring.md.</p>"
        f"<h2>Distance per feature</h2>{_bars(features)}"
        f"<h2>Features</h2><table>{head}{''.join(rows)}</table>"
        f'<p class="muted">Computed {e(str(result.get("computed_at", "")))} in '
        f"{e(_fmt(result.get('seconds')))} s.</p></body></html>"
    )
