"""The tamper-evident audit log: each organization's events in a hash chain, sealed after
they commit, with signed checkpoints anyone holding one can check the log against
(docs/events.md, "The tamper-evident audit log")."""
