"""Social login: Google, Microsoft, Apple, GitHub and generic OpenID providers, set up by staff."""
