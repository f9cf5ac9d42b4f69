"""``DataDriftDetector.show()``: drift over time, drawn with matplotlib."""

from __future__ import annotations

import datetime
from typing import Any

__all__ = ["figures"]

TOP_FEATURES = 10


def figures(name: str, results: list[dict[str, Any]], threshold: float) -> dict[str, Any]:
    """Two figures over ``results`` (one per window, oldest first): the drift share against the
    threshold, and the decisive figure of the features that drifted most often."""
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        from modelport.errors import InvalidInputError

        raise InvalidInputError("show() draws with matplotlib: pip install 'modelport[monitoring]'") from None
    out: dict[str, Any] = {}
    by_service: dict[str | None, list[dict[str, Any]]] = {}
    for r in results:
        by_service.setdefault(r.get("service_name"), []).append(r)
    if not by_service:
        by_service[None] = []
    for service, items in by_service.items():
        label = f"{name} ({service})" if service else name
        days: Any = [datetime.date.fromisoformat(r["start_date"]) for r in items]
        fig, ax = plt.subplots(figsize=(8, 3.2))
        ax.plot(days, [r["drift_share"] for r in items], marker="o", label="drift share")
        ax.axhline(threshold, color="#cf222e", linestyle="--", label=f"threshold {threshold:g}")
        ax.set_ylim(0, max([threshold * 1.5, *[r["drift_share"] * 1.1 for r in items], 0.05]))
        ax.set_ylabel("drifted features / tested")
        ax.set_title(f"Data drift: {label}")
        ax.legend(loc="upper left")
        fig.autofmt_xdate()
        fig.tight_layout()
        out[f"drift share: {label}"] = fig
        counts: dict[str, int] = {}
        for r in items:
            for f in r["drifted_features"]:
                counts[f] = counts.get(f, 0) + 1
        top = sorted(counts, key=lambda f: -counts[f])[:TOP_FEATURES]
        fig2, ax2 = plt.subplots(figsize=(8, 3.2))
        for feature in top:
            series = []
            for r in items:
                match = next((f for f in r["features"] if f["name"] == feature), None)
                series.append(match["value"] if match else None)
            ax2.plot(
                days, [v if v is not None else float("nan") for v in series], marker=".", label=str(feature)
            )
        ax2.set_title(f"Most drifted features: {label}" if top else f"No feature drifted: {label}")
        ax2.set_ylabel("test figure (distance or p)")
        if top:
            ax2.legend(loc="upper left", fontsize=7, ncol=2)
        fig2.autofmt_xdate()
        fig2.tight_layout()
        out[f"features: {label}"] = fig2
    return out
