"""Pictures of the lineage graph: Mermaid flowcharts and Graphviz dot.

Datasets are nodes (labelled by location), jobs label the edges. Output is
deterministic (sorted), so a picture can be committed and diffed.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any, Literal

from pipeline.lineage import queries

__all__ = ["GraphFormat", "lineage_graph", "render"]

GraphFormat = Literal["mermaid", "dot"]


def lineage_graph(conn: sqlite3.Connection, location: str | None = None) -> dict[str, Any]:
    """Return ``{"datasets", "edges"}`` around one dataset (both ways), or the whole store."""
    if location is None:
        datasets = [
            {"id": r[0], "location": r[1]}
            for r in conn.execute("SELECT id, location FROM datasets ORDER BY id")
        ]
        edges = [
            {"source": r[0], "target": r[1], "job": r[2]}
            for r in conn.execute(
                "SELECT e.src, e.dst, j.name FROM edges e JOIN jobs j ON j.id = e.job_id"
            )
        ]
        return {"datasets": datasets, "edges": edges}
    up = queries.lineage_walk(conn, location, "up", with_runs=False)
    down = queries.lineage_walk(conn, location, "down", with_runs=False)
    nodes = {d["id"]: d for d in [up["dataset"], *up["datasets"], *down["datasets"]]}
    unique = {(e["source"], e["target"], e["job"]): e for e in up["edges"] + down["edges"]}
    return {
        "datasets": sorted(nodes.values(), key=lambda d: d["id"]),
        "edges": list(unique.values()),
        "focus": up["dataset"]["id"],
    }


def _label(text: str) -> str:
    return json.dumps(text)[1:-1].replace("'", "\\'")


def render(graph: dict[str, Any], fmt: GraphFormat) -> str:
    """Render a graph from :func:`lineage_graph` as Mermaid or dot text."""
    edges = sorted(graph["edges"], key=lambda e: (e["source"], e["target"], e["job"]))
    datasets = sorted(graph["datasets"], key=lambda d: d["id"])
    focus = graph.get("focus")
    if fmt == "mermaid":
        lines = ["flowchart LR"]
        lines += [f'    d{d["id"]}["{_mermaid(d["location"])}"]' for d in datasets]
        lines += [f'    d{e["source"]} -->|"{_mermaid(e["job"])}"| d{e["target"]}' for e in edges]
        if focus is not None:
            lines.append(f"    style d{focus} stroke-width:3px")
        return "\n".join(lines) + "\n"
    lines = ["digraph lineage {", "    rankdir=LR;", "    node [shape=box];"]
    for d in datasets:
        bold = ", penwidth=3" if d["id"] == focus else ""
        lines.append(f'    d{d["id"]} [label="{_label(d["location"])}"{bold}];')
    lines += [f'    d{e["source"]} -> d{e["target"]} [label="{_label(e["job"])}"];' for e in edges]
    lines.append("}")
    return "\n".join(lines) + "\n"


def _mermaid(text: str) -> str:
    # Mermaid has no backslash escapes inside quoted labels; it uses entity codes.
    return text.replace('"', "#quot;")
