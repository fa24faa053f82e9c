"""Leave room on each of the health checks' table pages (PostgreSQL): every scan rewrites
every check's state, and a new row version that fits on its page is a heap-only update,
which writes no index entry. Full pages moved each version elsewhere and wrote an entry
in each of the table's five indexes, most of a scan's write."""

from django.db import migrations

# Rows are about 600 bytes; half a page free holds each row's next version until the
# page is pruned of the previous ones.
FILLFACTOR = 50


def leave_room(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE portal_healthcheck SET (fillfactor = {FILLFACTOR})")


def fill_pages(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE portal_healthcheck RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0011_pins"),
    ]

    operations = [
        migrations.RunPython(leave_room, fill_pages),
    ]
