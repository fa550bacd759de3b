"""`manage.py import_threads FILE [--replace]`: restore an export_threads document, all or nothing."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from threads.management.commands._common import positive_int, progress_printer
from threads.portability import DEFAULT_BATCH_SIZE, PortabilityError
from threads.restore import import_threads, read_export


class Command(BaseCommand):
    help = (
        "Import a JSON export written by export_threads. The whole file is checked first and written in one "
        "transaction: on any error nothing is imported. Threads that already exist are an error unless --replace."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="The export file, or - for stdin.")
        parser.add_argument(
            "--replace", action="store_true", help="Overwrite threads that already exist (same id) with the export."
        )
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="Progress every N threads.")

    def handle(self, *args: Any, **options: Any) -> None:
        self.verbosity = options["verbosity"]
        batch_size = positive_int("--batch-size", options["batch_size"])
        path = options["file"]
        try:
            if path == "-":
                raw = sys.stdin.read()
            else:
                with open(path, encoding="utf-8") as source:
                    raw = source.read()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror or exc}") from exc
        except UnicodeDecodeError as exc:
            raise CommandError(f"{path} is not UTF-8 text.") from exc
        try:
            document = read_export(raw)
            counts = import_threads(
                document,
                replace=options["replace"],
                batch_size=batch_size,
                progress=progress_printer(self, "imported"),
            )
        except PortabilityError as exc:
            raise CommandError(f"{path}: {exc}") from exc
        self.stdout.write(f"Imported {counts}.")
