"""The management API's side of the provider: OAuth access tokens as credentials
(``authentication``), permissions per endpoint (``permissions``), per-client rate limits
(``ratelimits``), and the endpoints operators use to manage applications and APIs."""
