"""Erasure may also replace who recorded a consent event (``actor_text``).

When the person erased is an operator's staff member who recorded consent for others, their
address is quoted in those people's events. The trigger now lets erasure mode rewrite that
column too, as well as the IP address and user agent; the decision, purpose, version, time
and receipt still never change.
"""

from django.db import migrations

FORWARD = """
DROP TRIGGER IF EXISTS consent_event_append_only ON consent_consentevent;
CREATE TRIGGER consent_event_append_only
    BEFORE UPDATE OR DELETE ON consent_consentevent
    FOR EACH ROW EXECUTE FUNCTION gatehouse_append_only('ip', 'user_agent', 'actor_text');
"""

BACKWARD = """
DROP TRIGGER IF EXISTS consent_event_append_only ON consent_consentevent;
CREATE TRIGGER consent_event_append_only
    BEFORE UPDATE OR DELETE ON consent_consentevent
    FOR EACH ROW EXECUTE FUNCTION gatehouse_append_only('ip', 'user_agent');
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("consent", "0006_erasure")]

    operations = [migrations.RunPython(forward, backward)]
