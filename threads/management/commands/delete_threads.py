"""`manage.py delete_threads --user U | --org O (--dry-run | --yes)`: remove a user's or an organization's data."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from threads.management.commands._common import (
    add_selection_arguments,
    positive_int,
    progress_printer,
    selection_from,
)
from threads.portability import DEFAULT_BATCH_SIZE, count_selection, delete_threads


class Command(BaseCommand):
    help = (
        "Delete one user's or one organization's threads with their messages, feedback and run reports. "
        "--user alone: the user's threads in every workspace; --org alone: the organization's; both: that "
        "member's threads in that organization. Needs --yes (or --dry-run to only count)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_selection_arguments(parser)
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--dry-run", action="store_true", help="Count what would be deleted; delete nothing.")
        mode.add_argument("--yes", action="store_true", help="Really delete.")
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="Threads per transaction.")

    def handle(self, *args: Any, **options: Any) -> None:
        self.verbosity = options["verbosity"]
        selection = selection_from(options)
        batch_size = positive_int("--batch-size", options["batch_size"])
        if options["dry_run"]:
            self.stdout.write(f"Would delete {count_selection(selection.threads())} of {selection.describe()}.")
            return
        if not options["yes"]:
            raise CommandError("Deleting is permanent: pass --yes to delete, or --dry-run to see what would go.")
        counts = delete_threads(selection, batch_size=batch_size, progress=progress_printer(self, "deleted"))
        self.stdout.write(f"Deleted {counts} of {selection.describe()}.")
