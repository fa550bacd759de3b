"""`manage.py prune_threads --older-than 30d --archived-only`: drop threads nobody has touched for a while."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from threads.management.commands._common import parse_age, positive_int, progress_printer
from threads.portability import DEFAULT_BATCH_SIZE, count_selection, delete_queryset, prunable_threads


class Command(BaseCommand):
    help = (
        "Delete threads (with their messages, feedback and run reports) whose last edit and last message are "
        "older than --older-than. Say which: --archived-only (archived threads) or --include-active (all threads)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than", required=True, metavar="AGE", help="e.g. 30d, 12h, 90m, 45s, 2w")
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--archived-only", action="store_true", help="Only archived threads.")
        which.add_argument("--include-active", action="store_true", help="Also threads that are not archived.")
        parser.add_argument("--dry-run", action="store_true", help="Count what would be deleted; delete nothing.")
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="Threads per transaction.")

    def handle(self, *args: Any, **options: Any) -> None:
        self.verbosity = options["verbosity"]
        age = parse_age(options["older_than"])
        batch_size = positive_int("--batch-size", options["batch_size"])
        if not (options["archived_only"] or options["include_active"]):
            raise CommandError("Say which threads: --archived-only, or --include-active to prune active ones too.")
        threads = prunable_threads(age, archived_only=options["archived_only"])
        kind = "archived threads" if options["archived_only"] else "threads"
        if options["dry_run"]:
            self.stdout.write(f"Would delete {count_selection(threads)} ({kind} older than {options['older_than']}).")
            return
        counts = delete_queryset(threads, batch_size=batch_size, progress=progress_printer(self, "pruned"))
        self.stdout.write(f"Pruned {counts} ({kind} older than {options['older_than']}).")
