"""The organization portal at /orgs/<slug>/ and the invitation pages, one module per tab.

What the portal's pages share (``org_page``, the refusal answers, the page context) is in
``organizations.pages``. Data is always fetched ``for_org(org)``; every change goes through
``organizations.services``.
"""
