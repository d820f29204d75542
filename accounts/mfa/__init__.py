"""Second factors: TOTP, backup codes, emailed codes and passkeys.

``policy`` says who has and needs which factor; ``services`` is the only code that writes
factors; ``session`` marks a session that passed one; ``stages`` puts the second step into
every allauth login; ``stepup`` guards sensitive actions; ``passkeys`` adapts
django-otp-webauthn to Gatehouse's login; ``views`` are the pages.
"""
