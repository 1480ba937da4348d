"""The funnel chart as PNG. matplotlib is imported on the first chart, never at bot start.

Drawing takes tens of milliseconds of CPU: callers on an event loop run `funnel_chart_png` in a
worker thread (`asyncio.to_thread`). Only the object-oriented API is used (no pyplot state), and
one chart is drawn at a time, since matplotlib does not promise thread safety.
"""

from __future__ import annotations

import io
import threading

from services.analytics.report import UNKNOWN_SCENARIO, FunnelReport, ScenarioFunnel

_drawing = threading.Lock()


def funnel_chart_png(
    report: FunnelReport, *, title: str, labels: dict[str, str] | None = None
) -> bytes:
    """A horizontal bar chart per scenario (started → steps → completed), as PNG bytes."""
    with _drawing:
        return _draw(report, title=title, labels=labels or {})


def _draw(report: FunnelReport, *, title: str, labels: dict[str, str]) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    funnels = report.scenarios or [ScenarioFunnel(UNKNOWN_SCENARIO)]
    heights = [max(2.0, 0.45 * (len(f.steps) + 3)) for f in funnels]
    figure = Figure(figsize=(9, sum(heights) + 0.8))
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(funnels), 1, squeeze=False, height_ratios=heights)[:, 0]
    for ax, funnel in zip(axes, funnels, strict=True):
        names = [labels.get("started", "started")]
        values = [funnel.started]
        for step in funnel.steps:
            names.append(labels.get(step.step, step.step))
            values.append(step.reached)
        names.append(labels.get("completed", "completed"))
        values.append(funnel.completed)
        positions = list(range(len(values)))
        ax.barh(positions, values, color="#4a76a8")
        ax.set_yticks(positions, names)
        ax.invert_yaxis()
        for position, value in zip(positions, values, strict=True):
            ax.text(value, position, f" {value}", va="center")
        ax.set_title(labels.get(funnel.scenario, funnel.scenario), loc="left")
        ax.set_xlim(0, max([*values, 1]) * 1.15)
    figure.suptitle(title)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()
