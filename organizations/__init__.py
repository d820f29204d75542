"""Organizations for B2B: members, roles, invitations, verified domains, org policy (issue 4)."""
