"""What the thread data commands share: the --user/--org selection, age parsing, progress lines."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from threads.portability import PortabilityError, Progress, Selection

_AGE = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def add_selection_arguments(parser: CommandParser) -> None:
    parser.add_argument("--user", metavar="USER_ID", help="A Clerk user id: their threads in every workspace.")
    parser.add_argument("--org", metavar="ORG_ID", help="A Clerk organization id: every thread of the organization.")


def selection_from(options: dict[str, Any]) -> Selection:
    """`--user`, `--org` or both (one member's threads in one organization)."""
    if options.get("user") is None and options.get("org") is None:
        raise CommandError("Say whose threads: --user USER_ID, --org ORG_ID, or both.")
    try:
        return Selection(user_id=options.get("user"), org_id=options.get("org"))
    except PortabilityError as exc:
        raise CommandError(str(exc).replace("user_id", "--user").replace("org_id", "--org")) from exc


def parse_age(value: str) -> timedelta:
    """`30d`, `12h`, `90m`, `45s`, `2w` (a positive whole number and a unit)."""
    match = _AGE.fullmatch(value.strip().lower())
    if not match or int(match.group(1)) <= 0:
        raise CommandError(f"--older-than {value!r}: expected a positive age such as 30d, 12h, 90m, 45s or 2w.")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def positive_int(name: str, value: int) -> int:
    if value <= 0:
        raise CommandError(f"{name} must be a positive number, got {value}.")
    return value


def progress_printer(command: BaseCommand, verb: str) -> Progress:
    """Progress lines on stderr (stdout may be the export itself); silent with --verbosity 0."""

    def report(done: int, total: int) -> None:
        if command.verbosity >= 1:
            command.stderr.write(f"{verb} {done}/{total} threads", style_func=lambda s: s)

    return report
