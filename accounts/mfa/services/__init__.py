"""The write path for second factors: every enrollment, removal, use and reset.

``enrollment`` adds, renames and removes factors (and support's reset); ``verification``
checks a factor when it is used and records the outcome; ``notices`` emails the owner about
either. Each service owns its transaction (``config.refusals.service``) and records its audit
event in it; notification emails are stored in the outbox and sent by Celery once it commits.
Services take the user and the facts they need, never the request: the session is the views'
business (``accounts.mfa.session``), and where a change came from is the audit context's.
"""
