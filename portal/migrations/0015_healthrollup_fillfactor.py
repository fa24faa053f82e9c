"""Leave room on each of the health rollups' table pages (PostgreSQL): every scan adds to
every check's row of the current hour, and a new row version that fits on its page is a
heap-only update, which writes no index entry. Full pages moved each version elsewhere
and wrote an entry in each of the table's three indexes, whose pages a long history
spreads the current hour's entries over: the write grew with the history."""

from django.db import migrations

# A scan updates every row of a page of the current hour's rows at once: half a page
# free holds their next versions until the page is pruned of the previous ones.
FILLFACTOR = 50


def leave_room(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE portal_healthrollup SET (fillfactor = {FILLFACTOR})")


def fill_pages(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE portal_healthrollup RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0014_healthcheck_sparkline"),
    ]

    operations = [
        migrations.RunPython(leave_room, fill_pages),
    ]
