"""Defences against account takeover: known devices and networks, the new-device email and its
"this wasn't me" link, credential-stuffing detection with a proof-of-work challenge, and the
risk signals recorded on each sign-in (docs/accounts-and-mfa.md, "Takeover defences")."""
