"""Data export: a person asks for a copy of everything Gatehouse holds about them.

- ``requesting``: ``request_export`` records a ``DataSubjectRequest`` (one open at a time, a few
  a day) and queues ``consent.tasks.build_export``.
- ``sections`` and ``audit_trail``: what goes in, one exporter per kind of row that holds the
  person's data; erasure walks the same list.
- ``archive``: the zip (README, sections, receipts, manifest) and its encryption at rest.
- ``job``: ``build`` makes the archive, stores it encrypted in an ``ExportArchive`` row (web and
  worker nodes share no disk) and emails a single-use link holding a random token.
- ``download``: the link's page spends the token on POST only (``consent.export_views``);
  ``expire`` deletes archives whose link ran out unused.
"""
