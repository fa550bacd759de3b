"""The top entries of a py-spy raw (collapsed) profile: where a process's busy samples went, inclusive and self.

    .venv/bin/python bench/support/profile_top.py PROFILE.txt [--top 25] [--match threads/chat]

Each line of a raw profile is `frame;frame;...;frame COUNT`, outermost first. A function's inclusive share
counts each sample once however often the function recurs in its stack; self is the innermost frame's.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

# Leaves where a thread waits rather than works (an idle pool thread, the event loop in epoll): not CPU.
IDLE_LEAVES = frozenset(
    {
        "_worker (thread.py)",
        "_DatabaseThreads._work (dbgate.py)",
        "Condition.wait (threading.py)",
        "EpollSelector.select (selectors.py)",
        "Thread._wait_for_tstate_lock (threading.py)",
        "Runner.run (runners.py)",
    }
)
_LOCATION = re.compile(r"\s*\((?:.*/)?(site-packages/)?([^()]*?)(?::\d+)?\)$")


def frame_name(frame: str) -> str:
    """`fn (path/to/file.py:12)` -> `fn (file path from the package root)`, line numbers dropped."""
    match = _LOCATION.search(frame)
    if not match:
        return frame.strip()
    return f"{frame[: match.start()].strip()} ({match.group(2)})"


def summarize(path: Path, top: int, match: str) -> str:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [frame_name(f) for f in stack.split(";")]
        if frames[-1] in IDLE_LEAVES:
            continue
        total += n
        for name in set(frames):
            inclusive[name] += n
        own[frames[-1]] += n
    if not total:  # busy samples only (idle waits dropped)
        return f"{path}: no samples"
    rows = [f"{path.name}: {total} samples"]
    for title, counter in (("inclusive", inclusive), ("self", own)):
        rows.append(f"  top {top} by {title} share:")
        shown = [(name, n) for name, n in counter.most_common() if match in name][:top]
        rows += [f"    {n / total * 100:5.1f}%  {name}" for name, n in shown]
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("profiles", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--match", default="", help="only functions whose name or file contains this")
    args = parser.parse_args()
    for profile in args.profiles:
        print(summarize(profile, args.top, args.match))


if __name__ == "__main__":
    main()
