"""The person page: what support staff see and do on one user's admin page.

``selectors`` reads everything shown about a person in a fixed number of queries, whatever
how many sessions, memberships or events they have; ``actions`` lists the support actions
(each asks for a reason, needs its own permission and runs an existing service); ``views``
serves the action URLs that ``accounts.admin.UserAdmin.get_urls`` mounts.
"""
