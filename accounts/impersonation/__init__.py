"""Impersonation with consent: support staff see Gatehouse (and, through the OpenID provider,
an app) as a person, for a stated reason and at most an hour (docs/support.md).

``models`` holds the record of each impersonation and its approval links; ``rules`` who may
impersonate whom and who must approve; ``services`` the write path (ask, approve or refuse,
start, end, expire); ``switch`` the swap between the staff member's session and the person's;
``guard`` what is refused while impersonating; ``middleware`` the per-request check, refusal
and audit; ``views`` the staff pages (mounted under /admin/), the approval page and "End".
"""
