"""Read-side lineage queries: ancestors, descendants, impact, history, run ancestry.

Dataset-level walks are single recursive CTEs over ``edges`` (``UNION``, not
``UNION ALL``, so every dataset is visited once however many paths reach it),
served by the ``edges`` primary key going down and ``edges_dst`` going up.
Results are plain JSON-ready dicts: the CLI prints them with ``--json`` as is.
"""

from __future__ import annotations

import json
import sqlite3
from collections import deque
from typing import Any, Literal

from pipeline.errors import LineageError
from pipeline.lineage.naming import identify

__all__ = [
    "dataset_row",
    "history",
    "lineage_walk",
    "run_ancestry",
    "run_details",
    "summary",
]

Direction = Literal["up", "down"]

_WALK = {
    "up": """WITH RECURSIVE walk(id) AS (
                 SELECT ? UNION SELECT e.src FROM edges e JOIN walk ON e.dst = walk.id)
             SELECT id FROM walk""",
    "down": """WITH RECURSIVE walk(id) AS (
                 SELECT ? UNION SELECT e.dst FROM edges e JOIN walk ON e.src = walk.id)
               SELECT id FROM walk""",
}


def _dataset_dict(row: sqlite3.Row | tuple[Any, ...]) -> dict[str, Any]:
    return {
        "id": row[0],
        "namespace": row[1],
        "name": row[2],
        "kind": row[3],
        "location": row[4],
    }


def dataset_row(conn: sqlite3.Connection, location: str) -> dict[str, Any]:
    """Find a dataset by the location given to a run (path or URI); raise if unknown."""
    try:
        ident = identify(location)
    except ValueError as exc:
        raise LineageError(str(exc), dataset=location) from exc
    row = conn.execute(
        "SELECT id, namespace, name, kind, location FROM datasets WHERE namespace = ? AND name = ?",
        (ident.namespace, ident.name),
    ).fetchone()
    if row is None:
        row = conn.execute(
            "SELECT id, namespace, name, kind, location FROM datasets WHERE location = ?",
            (location,),
        ).fetchone()
    if row is None:
        base = location.rstrip("/").rsplit("/", 1)[-1]
        near = [
            r[0]
            for r in conn.execute(
                "SELECT location FROM datasets WHERE location LIKE ? ORDER BY location LIMIT 3",
                (f"%{base}",),
            )
        ]
        hint = (
            f"did you mean {', '.join(near)}?"
            if near
            else "name it as it was given to `pipeline run` (a path or URI); "
            "`pipeline lineage graph` lists every dataset"
        )
        raise LineageError("dataset is not in the lineage store", dataset=location, hint=hint)
    return _dataset_dict(row)


def _runs(conn: sqlite3.Connection, run_rows: list[int]) -> list[dict[str, Any]]:
    if not run_rows:
        return []
    ids = json.dumps(sorted(set(run_rows)))
    runs: dict[int, dict[str, Any]] = {}
    for row in conn.execute(
        """SELECT r.id, r.run_id, j.name, r.status, r.as_of, r.input_records, r.output_records,
                  r.rejected_records, r.filtered_records, r.code, r.transformation, r.error
           FROM runs r JOIN jobs j ON j.id = r.job_id
           WHERE r.id IN (SELECT value FROM json_each(?)) ORDER BY r.id""",
        (ids,),
    ):
        runs[row[0]] = {
            "run_id": row[1],
            "job": row[2],
            "status": row[3],
            "as_of": row[4],
            "input_records": row[5],
            "output_records": row[6],
            "rejected_records": row[7],
            "filtered_records": json.loads(row[8]),
            "code": json.loads(row[9]),
            "transformation": row[10],
            "error": row[11],
            "inputs": [],
            "outputs": [],
        }
    for row in conn.execute(
        """SELECT io.run, io.role, d.location, d.namespace, d.name, v.hash, v.records, v.bytes,
                  d.kind
           FROM run_io io JOIN dataset_versions v ON v.id = io.version
           JOIN datasets d ON d.id = v.dataset_id
           WHERE io.run IN (SELECT value FROM json_each(?)) ORDER BY io.run, io.role, d.id""",
        (ids,),
    ):
        entry = {
            "location": row[2],
            "namespace": row[3],
            "name": row[4],
            "hash": row[5],
            "records": row[6],
            "bytes": row[7],
            "kind": row[8],
        }
        if row[1] == "quarantine":
            entry["quarantine"] = True
        runs[row[0]]["inputs" if row[1] == "input" else "outputs"].append(entry)
    return list(runs.values())


def lineage_walk(
    conn: sqlite3.Connection, location: str, direction: Direction, *, with_runs: bool = True
) -> dict[str, Any]:
    """Return the datasets, edges, jobs and runs upstream (``up``) or downstream of a dataset.

    ``depth`` is the shortest number of hops from the dataset. Runs are those
    that produced any dataset in the walk (upstream: including the dataset
    itself), with the hashes of what they read and wrote.
    """
    start = dataset_row(conn, location)
    closure = [r[0] for r in conn.execute(_WALK[direction], (start["id"],))]
    ids = json.dumps(closure)
    key = "dst" if direction == "up" else "src"
    edges = conn.execute(
        f"""SELECT e.src, e.dst, j.name, r.run_id FROM edges e
            JOIN jobs j ON j.id = e.job_id LEFT JOIN runs r ON r.id = e.last_run
            WHERE e.{key} IN (SELECT value FROM json_each(?))""",  # noqa: S608 (fixed column names)
        (ids,),
    ).fetchall()
    depth = _depths(start["id"], edges, key == "dst")
    datasets = {
        row[0]: _dataset_dict(row) | {"depth": depth.get(row[0])}
        for row in conn.execute(
            "SELECT id, namespace, name, kind, location FROM datasets "
            "WHERE id IN (SELECT value FROM json_each(?))",
            (ids,),
        )
    }
    datasets.pop(start["id"], None)
    result: dict[str, Any] = {
        "dataset": start,
        "direction": "ancestors" if direction == "up" else "descendants",
        "datasets": sorted(datasets.values(), key=lambda d: (d["depth"] or 0, d["location"])),
        "jobs": sorted({e[2] for e in edges}),
        "edges": [
            {"source": e[0], "target": e[1], "job": e[2], "last_run": e[3]}
            for e in sorted(edges, key=lambda e: (e[0], e[1], e[2]))
        ],
    }
    if with_runs:
        produced = closure if direction == "up" else [d for d in closure if d != start["id"]]
        run_rows = [
            r[0]
            for r in conn.execute(
                """SELECT DISTINCT io.run FROM dataset_versions v
                   JOIN run_io io ON io.version = v.id AND io.role != 'input'
                   WHERE v.dataset_id IN (SELECT value FROM json_each(?))""",
                (json.dumps(produced),),
            )
        ]
        result["runs"] = _runs(conn, run_rows)
    return result


def _depths(start: int, edges: list[tuple[Any, ...]], upward: bool) -> dict[int, int]:
    nxt: dict[int, list[int]] = {}
    for src, dst, *_ in edges:
        a, b = (dst, src) if upward else (src, dst)
        nxt.setdefault(a, []).append(b)
    depth = {start: 0}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for child in nxt.get(node, ()):
            if child not in depth:
                depth[child] = depth[node] + 1
                queue.append(child)
    return depth


def history(conn: sqlite3.Connection, location: str) -> dict[str, Any]:
    """Return every version (content hash) of a dataset, oldest first, with its runs."""
    start = dataset_row(conn, location)
    versions: list[dict[str, Any]] = []
    for row in conn.execute(
        """SELECT v.id, v.hash, v.records, v.bytes, v.fields, v.as_of, r.run_id
           FROM dataset_versions v LEFT JOIN runs r ON r.id = v.first_run
           WHERE v.dataset_id = ? ORDER BY v.id""",
        (start["id"],),
    ):
        uses: dict[str, list[str]] = {"produced_by": [], "read_by": []}
        for role, run_id in conn.execute(
            "SELECT io.role, r.run_id FROM run_io io JOIN runs r ON r.id = io.run "
            "WHERE io.version = ? ORDER BY r.id",
            (row[0],),
        ):
            uses["read_by" if role == "input" else "produced_by"].append(run_id)
        versions.append(
            {
                "version": len(versions) + 1,
                "hash": row[1],
                "records": row[2],
                "bytes": row[3],
                "fields": [list(f) for f in json.loads(row[4])],
                "as_of": row[5],
                "first_seen_run": row[6],
                **uses,
            }
        )
    return {"dataset": start, "versions": versions}


def run_details(conn: sqlite3.Connection, run_ids: list[str]) -> list[dict[str, Any]]:
    """Return runs (by their run ids) with the datasets and hashes they read and wrote."""
    rows = [
        r[0]
        for r in conn.execute(
            "SELECT id FROM runs WHERE run_id IN (SELECT value FROM json_each(?)) ORDER BY id",
            (json.dumps(run_ids),),
        )
    ]
    return _runs(conn, rows)


def run_ancestry(conn: sqlite3.Connection, run_id: str, direction: Direction) -> list[str]:
    """Return the run ids upstream (or downstream) of a run, nearest first.

    A run descends from the run that wrote the exact version (hash) it read;
    when no recorded run wrote that version (or its hash is unknown), it
    descends from every earlier run that wrote the same dataset, which is the
    seed's rule ("a record whose source is an earlier record's destination").
    """
    found = conn.execute("SELECT id FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    if found is None:
        raise LineageError("no lineage record with this id", run_id=run_id)
    seen = {found[0]}
    order: list[int] = []
    queue = deque([found[0]])
    while queue:
        current = queue.popleft()
        for nxt in _run_neighbours(conn, current, direction):
            if nxt not in seen:
                seen.add(nxt)
                order.append(nxt)
                queue.append(nxt)
    names = dict(
        conn.execute(
            "SELECT id, run_id FROM runs WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(order),),
        ).fetchall()
    )
    return [names[i] for i in order]


def _run_neighbours(conn: sqlite3.Connection, run: int, direction: Direction) -> list[int]:
    mine, theirs = ("= 'input'", "!= 'input'") if direction == "up" else ("!= 'input'", "= 'input'")
    earlier = "<" if direction == "up" else ">"
    rows = conn.execute(
        f"""SELECT mv.id, mv.hash, mv.dataset_id FROM run_io io
            JOIN dataset_versions mv ON mv.id = io.version
            WHERE io.run = ? AND io.role {mine}""",  # noqa: S608 (fixed fragments)
        (run,),
    ).fetchall()
    out: list[int] = []
    for version, hash_, dataset in rows:
        # Only an earlier run is an ancestor (a later one a descendant), even when the
        # bytes match exactly: a run writing back what an earlier run read made the two
        # each other's ancestor, a cycle (found by review).
        exact = [
            r[0]
            for r in conn.execute(
                f"SELECT run FROM run_io WHERE version = ? AND role {theirs} AND run {earlier} ?",  # noqa: S608
                (version, run),
            )
        ]
        if exact and hash_ is not None:
            out += exact
            continue
        out += [
            r[0]
            for r in conn.execute(
                f"""SELECT DISTINCT io.run FROM dataset_versions v
                    JOIN run_io io ON io.version = v.id AND io.role {theirs}
                    WHERE v.dataset_id = ? AND io.run {earlier} ? ORDER BY io.run""",  # noqa: S608
                (dataset, run),
            )
        ]
    return sorted(set(out), reverse=direction == "up")


def summary(conn: sqlite3.Connection) -> dict[str, Any]:
    """Return counts of what the store holds (the seed's ``summary()``)."""
    count = {
        name: int(conn.execute(f"SELECT count(*) FROM {name}").fetchone()[0])  # noqa: S608
        for name in ("datasets", "jobs", "runs", "dataset_versions", "edges")
    }
    totals = conn.execute(
        "SELECT coalesce(sum(input_records), 0), coalesce(sum(output_records), 0), "
        "coalesce(sum(rejected_records), 0) FROM runs"
    ).fetchone()
    filtered = sum(
        sum(json.loads(r[0]).values()) for r in conn.execute("SELECT filtered_records FROM runs")
    )
    return {
        "total_records": count["runs"],
        "datasets": count["datasets"],
        "jobs": count["jobs"],
        "runs": count["runs"],
        "versions": count["dataset_versions"],
        "edges": count["edges"],
        "total_input_records": int(totals[0]),
        "total_output_records": int(totals[1]),
        "total_rejected_records": int(totals[2]),
        "total_filtered_records": int(filtered),
    }
