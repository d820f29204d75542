"""Erasure: a person asks for their account to be deleted, and after a grace period a job does it.

``request_erasure`` (the privacy page or the API, after a step-up) schedules a
``DataSubjectRequest`` for ``GATEHOUSE_ERASURE_GRACE_DAYS`` later and emails every verified
address; until then the account works and ``cancel_erasure`` undoes it. The beat task
``run_due_erasures`` queues ``erase_user`` for requests that are due, which runs the job.

- ``schedule``: asking, cancelling, which requests are due; who may not be erased yet.
- ``identifiers``: what names the person, collected when the job starts.
- ``rewriter`` and ``quotes``: the pseudonym in place of their addresses and names in every log.
- ``removal``: what happens to each kind of their rows (``WHAT_HAPPENS``).
- ``job``: the three steps, start, rewrite, finish.
- ``notices``: the emails; ``retention``: how long consent evidence outlives the account.

What is kept, and why, is written down in docs/consent-and-privacy.md ("Erasure"). Other apps
use the names below.
"""

from consent.erasure.retention import purge_evidence
from consent.erasure.schedule import cancel_erasure, open_erasure, request_erasure

__all__ = ["cancel_erasure", "open_erasure", "purge_evidence", "request_erasure"]
