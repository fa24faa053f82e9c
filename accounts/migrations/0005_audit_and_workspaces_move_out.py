"""The audit log and workspaces move to apps of their own (audit, workspaces).

The rows stay where they are: the tables are renamed to the new apps' names and the
models leave this app's state only; audit/0001 and workspaces/0001 take them over.
"""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0004_user_language"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.AlterModelTable("auditevent", "audit_auditevent"),
                migrations.AlterModelTable("workspace", "workspaces_workspace"),
            ],
            state_operations=[
                migrations.DeleteModel("AuditEvent"),
                migrations.DeleteModel("Workspace"),
            ],
        ),
    ]
