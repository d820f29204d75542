from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"

    def ready(self) -> None:
        from audit import checks  # noqa: F401 (registers the deploy check)
        from audit.chain.sealer import BATCH, seal_batch
        from audit.streams.delivery import QUEUE_LIMIT, queue_due_streams
        from events import pipeline

        # The events pipeline loop seals new audit events first (log streams and the feed's
        # "sealed" summary read the chain), then moves webhooks, then queues the log streams
        # whose chain grew (docs/events.md, section 0 items 3 and 6).
        pipeline.add_stage("seal", seal_batch, batch=BATCH, before="dispatch")
        pipeline.add_stage("streams", queue_due_streams, batch=QUEUE_LIMIT)
