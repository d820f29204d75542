"""Indexes that keep the audit log fast at tens of millions of rows, built without locking it.

* ``audit_org_when`` (organization_id, occurred_at, id): an organization's log in keyset pages,
  newest first (a backward scan) or oldest first (retention), replacing the index on
  organization_id alone, whose pages sorted afterwards.
* ``audit_actor_prefix`` (lower(actor_text) text_pattern_ops) and ``audit_org_actor_prefix``
  (organization_id, lower(actor_text) text_pattern_ops): the search by an actor's email, an
  exact address or its beginning (``LIKE 'pat@%'``), in the admin and in the portal.
  PostgreSQL only (an operator class is PostgreSQL's), so they are not in the model's Meta.

On PostgreSQL every index is built and dropped CONCURRENTLY, outside a transaction: writers
(every sign-in) never wait on the build. CREATE INDEX is DDL the owner role runs (migrate acts
as the owner, audit/db_roles.py); no row changes, so the append-only trigger is not involved.
A build that failed leaves an INVALID index; ``IF NOT EXISTS`` would keep it, so it is
dropped first.
"""

from django.db import migrations, models

NEW = {
    "audit_org_when": "(organization_id, occurred_at, id)",
    "audit_actor_prefix": "(lower(actor_text) text_pattern_ops)",
    "audit_org_actor_prefix": "(organization_id, lower(actor_text) text_pattern_ops)",
}


def _single_org_index(cursor):
    """The name Django gave the index on organization_id alone (db_index=True), if any."""
    cursor.execute(
        "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
        "AND tablename = 'audit_auditevent' AND indexdef LIKE '%%(organization_id)'"
    )
    found = cursor.fetchone()
    return found[0] if found else None


def forward(apps, schema_editor):
    model = apps.get_model("audit", "AuditEvent")
    if schema_editor.connection.vendor != "postgresql":
        # SQLite (embedded mode): a small log; plain indexes, no operator class.
        schema_editor.add_index(
            model, models.Index(fields=["organization_id", "occurred_at", "id"], name="audit_org_when")
        )
        return
    quote = schema_editor.quote_name
    with schema_editor.connection.cursor() as cursor:
        for name, columns in NEW.items():
            cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {quote(name)}")
            cursor.execute(f"CREATE INDEX CONCURRENTLY {quote(name)} ON audit_auditevent {columns}")
        old = _single_org_index(cursor)
        if old:
            cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {quote(old)}")


def backward(apps, schema_editor):
    model = apps.get_model("audit", "AuditEvent")
    if schema_editor.connection.vendor != "postgresql":
        schema_editor.remove_index(
            model, models.Index(fields=["organization_id", "occurred_at", "id"], name="audit_org_when")
        )
        return
    quote = schema_editor.quote_name
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS audit_auditevent_organization_id_idx "
            "ON audit_auditevent (organization_id)"
        )
        for name in NEW:
            cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {quote(name)}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("audit", "0016_audit_export")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="auditevent",
                    name="organization_id",
                    field=models.BigIntegerField(blank=True, null=True),
                ),
                migrations.AddIndex(
                    model_name="auditevent",
                    index=models.Index(
                        fields=["organization_id", "occurred_at", "id"], name="audit_org_when"
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(forward, backward)],
        )
    ]
