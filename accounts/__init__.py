"""End users: the user model, allauth policy, self-service pages, email delivery."""
