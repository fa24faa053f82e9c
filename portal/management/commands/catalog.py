"""`catalog export` writes the catalog as YAML; `catalog import FILE` checks, then applies it."""

from django.core.management.base import BaseCommand, CommandError

from portal.catalog_io import (
    CatalogFileError,
    apply_import,
    dump_yaml,
    export_catalog,
    read_catalog_file,
)


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

    def handle(self, *args, action, **options):
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
