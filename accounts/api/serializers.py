"""What the users API reads and writes. Accounts are named by their public id, never the
database key; nothing secret (password hashes, factor keys, session keys) is ever shown."""

from __future__ import annotations

from typing import Any

from allauth.usersessions.models import UserSession
from rest_framework import serializers

from accounts.models import User
from accounts.services import REASON_MAX_LENGTH
from config.api_framework import StrictTypes


class UserSerializer(serializers.ModelSerializer[User]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    email_verified = serializers.SerializerMethodField()
    blocked = serializers.BooleanField(source="is_blocked", read_only=True)
    created_at = serializers.DateTimeField(source="date_joined", read_only=True)
    last_login_at = serializers.DateTimeField(source="last_login", read_only=True, allow_null=True)
    erased = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = (
            "id",
            "email",
            "email_verified",
            "display_name",
            "blocked",
            "blocked_at",
            "created_at",
            "last_login_at",
            "erased",
        )
        read_only_fields = fields

    def get_email_verified(self, user: User) -> bool:
        # Prefetched by the views: one query for a whole page.
        return any(
            address.verified and address.email.lower() == user.email.lower()
            for address in user.emailaddress_set.all()  # type: ignore[attr-defined]
        )

    def get_erased(self, user: User) -> bool:
        return user.erased_at is not None


class UserCreateSerializer(StrictTypes, serializers.Serializer[Any]):
    email = serializers.EmailField(max_length=254)
    display_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    email_verified = serializers.BooleanField(
        required=False,
        default=False,
        help_text="The address is already proven: no verification email is sent.",
    )
    send_verification_email = serializers.BooleanField(
        required=False,
        default=True,
        help_text="Email the person the link that verifies the address (when not verified).",
    )


class UserUpdateSerializer(StrictTypes, serializers.Serializer[Any]):
    display_name = serializers.CharField(max_length=150, allow_blank=True)


class SupportReasonSerializer(StrictTypes, serializers.Serializer[Any]):
    reason = serializers.CharField(max_length=REASON_MAX_LENGTH)


class SessionSerializer(serializers.ModelSerializer[UserSession]):
    class Meta:
        model = UserSession
        fields = ("id", "created_at", "last_seen_at", "ip", "user_agent")
        read_only_fields = fields


class FactorSerializer(serializers.Serializer[Any]):
    kind = serializers.CharField(read_only=True)
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    confirmed = serializers.BooleanField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True, allow_null=True)
    last_used_at = serializers.DateTimeField(read_only=True, allow_null=True)


class ScheduledFactorResetSerializer(serializers.Serializer[Any]):
    """A reset of every second factor: it takes effect at ``due_at`` unless cancelled."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    status = serializers.CharField(read_only=True)
    requested_at = serializers.DateTimeField(read_only=True)
    due_at = serializers.DateTimeField(read_only=True)


class RevokedSessionsSerializer(serializers.Serializer[Any]):
    sessions_ended = serializers.IntegerField(read_only=True)


class ScheduledErasureSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    status = serializers.CharField(read_only=True)
    requested_at = serializers.DateTimeField(read_only=True)
    scheduled_for = serializers.DateTimeField(read_only=True)


class ProfileValueSerializer(serializers.Serializer[Any]):
    key = serializers.CharField()
    label = serializers.CharField()
    kind = serializers.CharField()
    value = serializers.CharField(allow_blank=True)
    skipped = serializers.BooleanField()
    updated_at = serializers.DateTimeField()
