"""The users API (/api/v1/users/...): what the operator's backends and support tools need to
find, create and look after people's accounts. Views in ``views``, serializers in
``serializers``; config/api.py routes them."""
