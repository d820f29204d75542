"""Progressive profiling: extra profile fields the operator declares (name, phone, company and
custom ones) and when to ask people for them: at sign-up, after a number of sign-ins, or when
an app asks for a scope. docs/accounts-and-mfa.md, "Progressive profiling"."""
