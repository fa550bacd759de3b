"""`manage.py export_threads --user U | --org O [--output FILE]`: a complete, re-importable JSON export."""

from __future__ import annotations

import os
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from threads.management.commands._common import (
    add_selection_arguments,
    positive_int,
    progress_printer,
    selection_from,
)
from threads.portability import DEFAULT_BATCH_SIZE, export_threads


class Command(BaseCommand):
    help = (
        "Export one user's or one organization's threads, messages, feedback and run reports as JSON "
        "(every field, timestamps included; import_threads restores it). --user alone: the user's threads in "
        "every workspace; --org alone: the organization's; both: that member's threads in that organization."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_selection_arguments(parser)
        parser.add_argument("--output", "-o", default="-", help="File to write (default: - for stdout).")
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="Threads read per batch.")

    def handle(self, *args: Any, **options: Any) -> None:
        self.verbosity = options["verbosity"]
        selection = selection_from(options)
        batch_size = positive_int("--batch-size", options["batch_size"])
        output = options["output"]
        progress = progress_printer(self, "exported")
        if output == "-":
            counts = export_threads(selection, self.stdout, batch_size=batch_size, progress=progress)
        else:
            partial = f"{output}.partial"
            try:
                with open(partial, "w", encoding="utf-8") as out:
                    counts = export_threads(selection, out, batch_size=batch_size, progress=progress)
                # Renamed only when complete, so a failed run never leaves a truncated export behind.
                os.replace(partial, output)
            except OSError as exc:
                raise CommandError(f"Cannot write {output}: {exc.strerror or exc}") from exc
            finally:
                if os.path.exists(partial):
                    os.remove(partial)
        if self.verbosity >= 1:
            where = "stdout" if output == "-" else output
            self.stderr.write(f"Exported {counts} of {selection.describe()} to {where}.", style_func=lambda s: s)
        sys.stdout.flush()
