from django.apps import AppConfig

SEAL_EVERY = 2.0  # seconds between sealing passes (and log stream queueing) in one loop


class AuditConfig(AppConfig):
    name = "audit"

    def ready(self) -> None:
        from audit import checks  # noqa: F401 (registers the deploy check)
        from audit.chain.sealer import BATCH, seal_batch
        from audit.streams.delivery import QUEUE_LIMIT, queue_due_streams
        from events import pipeline

        # The events pipeline loop seals new audit events first (log streams and the feed's
        # "sealed" summary read the chain), then moves webhooks, then queues the log streams
        # whose chain grew (docs/events.md, section 0 items 3 and 6). Webhooks are the urgent
        # part (a delay goal of 2 s from commit); sealing and streams run every SEAL_EVERY
        # seconds, so that under a steady flow of sign-ins each sealing transaction takes a
        # few seconds' events at once instead of a few events twice a second (its cost is
        # mostly per transaction: docs/events.md, "Benchmark").
        pipeline.add_stage("seal", seal_batch, batch=BATCH, before="dispatch", every=SEAL_EVERY)
        pipeline.add_stage("streams", queue_due_streams, batch=QUEUE_LIMIT, every=SEAL_EVERY)
