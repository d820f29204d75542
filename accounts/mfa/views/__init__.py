"""Pages for second factors: the login's second step (``login_step``), /account/security/
(``security``) and step-up (``stepup``)."""
