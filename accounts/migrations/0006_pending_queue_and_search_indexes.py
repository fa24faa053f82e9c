"""The pending queue read in index order, and, on PostgreSQL, the admin's member search
served by trigram indexes.

The admin searches a substring of each column case-insensitively (Django's `icontains`:
`UPPER("col"::text) LIKE UPPER('%term%')`), which no B-tree serves. A trigram GIN index on
that very expression does, so each searched column gets one and a search is a bitmap OR of
index scans instead of a pass over every member. pg_trgm ships with PostgreSQL and is a
trusted extension: the database's owner may create it. SQLite has no such index; there the
search reads the table, as before.
"""

from django.db import migrations, models

# The columns accounts.admin searches (UserAdmin.search_fields, PendingMemberAdmin's are a
# subset). A search over a column without an index here reads the whole table.
SEARCHED_COLUMNS = ["username", "email", "first_name", "last_name", "oidc_subject"]


def create_search_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in SEARCHED_COLUMNS:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "accounts_user_{column}_trgm" ON "accounts_user" '
            f'USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
        )


def drop_search_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in SEARCHED_COLUMNS:
        schema_editor.execute(f'DROP INDEX IF EXISTS "accounts_user_{column}_trgm"')


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_audit_and_workspaces_move_out"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="user",
            index=models.Index(
                condition=models.Q(("membership", "pending")),
                fields=["date_joined", "id"],
                name="user_pending_queue",
            ),
        ),
        migrations.RunPython(create_search_indexes, drop_search_indexes, elidable=False),
    ]
