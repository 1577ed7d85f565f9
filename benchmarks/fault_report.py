"""The one table of faults, ``fault_table.md``: what ``fault_table.py`` measured on one machine and, below
it, what ``cluster_faults.py`` measured on a cluster, each rendered from its result file as last measured."""
from __future__ import annotations

import json
from pathlib import Path


def single_node_markdown(result: dict) -> str:
    """The faults of one machine (``fault_table.json``, from ``fault_table.py``), as Markdown."""
    lines = [
        "# Fault table", "",
        f"`{result['command']}`, {result['date']}, {result['machine']['platform']}, "
        f"{result['machine']['cpu_count']} CPUs, {result['wall_seconds']:.0f} s in all.", "",
        "Each fault injected for real, each run compared with an uninterrupted run of the same config and seed. "
        "*Shards recomputed*: shard files that were finished before the fault and written again after it; "
        "*in-flight redone*: shards an actor had started when it was killed and another start computed "
        "(logged where actors are involved).", "",
        "| fault | injected | runs completed | rows lost | rows duplicated | shards recomputed | in-flight redone "
        "| max redone per fault | equal to uninterrupted |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in result["faults"]:
        inflight = "n/a" if row["in_flight_shards_redone"] is None else row["in_flight_shards_redone"]
        lines.append(f"| {row['fault']} | {row['injected']} | {row['runs_completed']} | {row['rows_lost']} | "
                     f"{row['rows_duplicated']} | {row['finished_shards_recomputed']} | {inflight} | "
                     f"{row['max_shards_recomputed_per_fault']} | {'yes' if row['equal_to_uninterrupted'] else 'NO'} |")
    lines += ["", f"Target: {result['target']}. Met: **{'yes' if result['target_met'] else 'no'}**.", "",
              "How each fault was injected:", ""]
    lines += [f"- **{row['fault']}**: {row['how']}." for row in result["faults"]]
    lines += ["", "A killed driver loses the work of the shards its actors had in flight (up to one per actor); "
              "those were never finished, so they are computed by the next run and not counted as recomputed.", ""]
    return "\n".join(lines)


def cluster_markdown(result: dict) -> str:
    """The faults of a cluster (``cluster_faults.json``, from ``cluster_faults.py``), as Markdown."""
    lines = ["## Faults of a cluster", "", "Each table was measured by:", ""]
    for section, m in result["measured"].items():
        lines.append(f"- {section}: `{m['command']}`, {m['date']}, commit {str(m['git_commit'])[:8]} "
                     f"({m['git_worktree']}), {m['machine']['platform']}, {m['machine']['cpu_count']} CPUs, "
                     f"{m['wall_seconds']:.0f} s.")
    lines += ["",
             "| fault | injected | runs completed on their own | runs that saw a loss | losses logged | rows lost | "
             "rows duplicated | selection equal |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in result["nodes"]:
        r = row["records"]
        lines.append(f"| {row['fault']} | {sum(x['injected'] for x in r)}/{len(r)} | {sum(x['completed'] for x in r)} | "
                     f"{sum(x['loss_lines_on_stderr'] > 0 for x in r)}/{len(r)} | "
                     f"{[x['loss_lines_on_stderr'] for x in r]} | "
                     f"{sum(x['rows_lost'] or 0 for x in r)} | {sum(x['rows_duplicated'] or 0 for x in r)} | "
                     f"{sum(x['selection_equal'] for x in r)}/{len(r)} |")
    when = {(m["command"], m["date"], str(m["git_commit"])[:8]): [] for m in (r.get("measured") for r in
                                                                          result["nodes"]) if m}
    for row in result["nodes"]:
        if row.get("measured"):
            m = row["measured"]
            when[(m["command"], m["date"], str(m["git_commit"])[:8])].append(row["fault"])
    if len(when) > 1:
        lines += ["", *(f"- {', '.join(faults)}: `{command}`, {date}, commit {commit}."
                        for (command, date, commit), faults in when.items())]
    lines += ["", "| signal | exits | one `cbred:` line | manifest | lock released | resumed and equal |",
              "| --- | --- | --- | --- | --- | --- |"]
    for row in result["signals"]:
        r = row["records"]
        lines.append(f"| {row['fault']} | {sorted({x['exit'] for x in r}, key=str)} | "
                     f"{sum(x['cbred_lines'] == 1 for x in r)}/{len(r)} | {sorted({str(x['status']) for x in r})} | "
                     f"{sum(x['lock_released'] for x in r)}/{len(r)} | "
                     f"{sum(x['completed'] and x['selection_equal'] for x in r)}/{len(r)} |")
    lines += ["", "| disk full | exits | one `cbred:` line | its line | resumed on a larger volume and equal |",
              "| --- | --- | --- | --- | --- |"]
    for row in result.get("disk_full", []):
        r = row["records"]
        lines.append(f"| {row['fault']} | {sorted({x['exit'] for x in r}, key=str)} | "
                     f"{sum(x['cbred_lines'] == 1 and x['stderr_lines'] == 1 for x in r)}/{len(r)} | "
                     f"{r[0]['last_line'] if r else ''} | {sum(x['completed'] and x['selection_equal'] for x in r)}/{len(r)} |")
    lines += ["", "| damaged file | outcome |", "| --- | --- |"]
    for row in result["damaged"]:
        outcome = (f"exit {row['exit']}: {row.get('last_line', '')}" if not row["completed"] else
                   f"finished (exit 0), selection equal: {row['selection_equal']}"
                   + (f"; refused while fresh (exit {row['exit_while_fresh']}): {row['line_while_fresh']}"
                      if "exit_while_fresh" in row else "") + (f"; shards redone: {row['redone']}" if "redone" in row
                                                                else ""))
        lines.append(f"| {row['fault']} | {outcome} |")
    lines += ["", "| reader during a writer | exit | last line on stderr | stdout |", "| --- | --- | --- | --- |"]
    for row in result["readers"]:
        lines.append(f"| `{row['command']}` | {row['exit']} | {row['last_line']} | {row['stdout'][:120]} |")
    lines += ["", *result.get("notes", [])] if result.get("notes") else []
    return "\n".join(lines) + "\n"


def write_table(folder: Path) -> str:
    """Write ``fault_table.md``, the one table of faults: this script's (``fault_table.json``) and, below it,
    the faults of a cluster (``cluster_faults.json``, from ``cluster_faults.py``), each as last measured."""
    parts = [single_node_markdown(json.loads((folder / name).read_text())) if name == "fault_table.json" else
             cluster_markdown(json.loads((folder / name).read_text()))
             for name in ("fault_table.json", "cluster_faults.json") if (folder / name).is_file()]
    text = "\n".join(parts)
    (folder / "fault_table.md").write_text(text)
    return text
