"""`catalog export` writes the catalog as YAML; `catalog import FILE` checks, then applies it;
`catalog locate SERVICE LOCATION` points one service's links (and its checks of this
machine) somewhere else."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from portal.catalog_io import (
    CatalogFileError,
    apply_import,
    dump_yaml,
    export_catalog,
    read_catalog_file,
)
from portal.models import Service


class Command(BaseCommand):
    help = "Export the catalog as YAML, or import a YAML catalog file."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        export = actions.add_parser("export", help="write the catalog as YAML")
        export.add_argument("-o", "--output", help="file to write (default: standard output)")
        load = actions.add_parser("import", help="check a YAML catalog file, then apply it")
        load.add_argument("file")
        load.add_argument("--dry-run", action="store_true", help="report, write nothing")
        load.add_argument("--prune", action="store_true", help="delete what the file does not list")
        locate = actions.add_parser(
            "locate", help="point a service's links at a path or URL (e.g. where it runs here)"
        )
        locate.add_argument("service", help="the service's slug")
        locate.add_argument("location", help="a path under the platform domain or an http(s) URL")

    def handle(self, *args, action, **options):
        if action == "locate":
            self.locate(options["service"], options["location"])
            return
        if action == "export":
            text = dump_yaml(export_catalog())
            if options["output"]:
                with open(options["output"], "w", encoding="utf-8") as output:
                    output.write(text)
            else:
                self.stdout.write(text, ending="")
            return
        try:
            plan = read_catalog_file(options["file"], prune=options["prune"])
        except CatalogFileError as error:
            raise CommandError(
                f"{len(error.problems)} problem(s), nothing was changed:\n{error}"
            ) from None
        changes = apply_import(plan, dry_run=options["dry_run"])
        for line in changes or ["No changes."]:
            self.stdout.write(line)
        if options["dry_run"]:
            self.stdout.write("Dry run: nothing was written.")

    def locate(self, slug: str, location: str) -> None:
        service = Service.objects.filter(slug=slug).first()
        if service is None:
            raise CommandError(f"No service {slug!r} in the catalog.")
        try:
            changes = service.relocate(location)
        except ValidationError as error:
            problems = " ".join(error.messages)
            raise CommandError(f"{slug}: location: {problems} Nothing was changed.") from None
        for line in changes or ["No changes."]:
            self.stdout.write(line)
