"""Audit exports built in the background (audit/exports/), and the audit log's own actions."""

import django.db.models.deletion
import django.utils.timezone
import uuid
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0015_scim_actions'),
        ('organizations', '0003_organizationpolicy_audit_retention_days'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='AuditExport',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('public_id', models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ('format', models.CharField(choices=[('csv', 'CSV'), ('json', 'JSON')], max_length=4)),
                ('filters', models.JSONField(default=dict)),
                ('status', models.CharField(choices=[('pending', 'Being prepared'), ('ready', 'Ready'), ('failed', 'Failed'), ('expired', 'Expired')], default='pending', max_length=8)),
                ('rows', models.PositiveIntegerField(default=0)),
                ('data', models.BinaryField(default=b'')),
                ('sha256', models.CharField(blank=True, max_length=64)),
                ('last_error', models.CharField(blank=True, max_length=200)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('ready_at', models.DateTimeField(blank=True, null=True)),
                ('expires_at', models.DateTimeField(blank=True, null=True)),
            ],
        ),
        migrations.AlterField(
            model_name='auditevent',
            name='action',
            field=models.CharField(choices=[('user.signed_up', 'Signed up'), ('login.succeeded', 'Logged in'), ('login.failed', 'Login failed'), ('login.blocked', 'Login refused: account blocked'), ('login.sso_required', 'Login refused: the organization requires SSO'), ('login.method_not_allowed', 'Login refused: the organization does not allow this sign-in method'), ('login.code_rejected', 'Wrong login code entered'), ('logout', 'Logged out'), ('password.changed', 'Password changed'), ('password.set', 'Password set'), ('password.reset', 'Password reset'), ('email.added', 'Email address added'), ('email.changed', 'Primary email address changed'), ('email.verified', 'Email address verified'), ('email.removed', 'Email address removed'), ('email.verification_resent', 'Verification email resent'), ('profile.updated', 'Profile updated'), ('session.revoked', 'Session revoked'), ('session.revoked_all', 'Signed out everywhere'), ('user.blocked', 'User blocked'), ('user.unblocked', 'User unblocked'), ('user.edited_by_staff', 'User edited in the admin'), ('mfa.device_added', 'Second factor added'), ('mfa.device_removed', 'Second factor removed'), ('mfa.device_renamed', 'Second factor renamed'), ('mfa.backup_codes_generated', 'Backup codes generated'), ('mfa.backup_code_used', 'Backup code used'), ('mfa.verified', 'Second factor passed'), ('mfa.failed', 'Second factor failed'), ('mfa.throttled', 'Second factor refused: too many wrong codes'), ('mfa.email_code_sent', 'Second-factor code emailed'), ('mfa.email_code_refused', 'Second-factor code not sent: too soon'), ('mfa.reset', 'Second factors reset by support'), ('mfa.enrollment_required', 'Sent to enroll a second factor'), ('org.created', 'Organization created'), ('org.updated', 'Organization settings changed'), ('org.policy_updated', 'Organization policy changed'), ('org.member_joined', 'Member joined'), ('org.member_role_changed', "Member's role changed"), ('org.member_removed', 'Member removed'), ('org.member_left', 'Member left'), ('org.member_deprovisioned', "Removed member's access cleaned up"), ('org.ownership_transferred', 'Ownership transferred'), ('org.switched', 'Active organization switched'), ('org.invitation_sent', 'Invitation sent'), ('org.invitation_resent', 'Invitation resent'), ('org.invitation_revoked', 'Invitation revoked'), ('org.invitation_accepted', 'Invitation accepted'), ('org.invitation_refused', 'Invitation could not be used'), ('org.domain_added', 'Domain added'), ('org.domain_verified', 'Domain verified'), ('org.domain_check_failed', 'Domain verification failed'), ('org.domain_lost', 'Domain no longer verified'), ('org.domain_removed', 'Domain removed'), ('org.access_denied', 'Organization action refused'), ('org.rate_limited', 'Organization action refused: too many requests'), ('sso.login_succeeded', 'Signed in through SSO'), ('sso.login_failed', 'SSO sign-in refused'), ('sso.user_created', 'Account created at first SSO sign-in'), ('sso.identity_linked', 'SSO identity linked to an existing account'), ('sso.unverified_account_released', 'Never-verified account with an SSO address locked and its address released'), ('sso.role_mapped', "Role set from the IdP's groups"), ('sso.logout', 'Signed out by the IdP (single logout)'), ('sso.logout_refused', 'Single logout message refused'), ('sso.connection_created', 'SSO connection created'), ('sso.connection_updated', 'SSO connection changed'), ('sso.connection_activated', 'SSO connection turned on'), ('sso.connection_disabled', 'SSO connection turned off'), ('sso.connection_deleted', 'SSO connection deleted'), ('sso.connection_tested', 'SSO connection tested'), ('sso.certificate_added', 'IdP certificate added'), ('sso.certificate_removed', 'IdP certificate removed'), ('sso.sp_key_rotation_started', "Gatehouse's SAML key rotation started"), ('sso.sp_key_rotated', "Gatehouse's SAML key replaced by the next one"), ('sso.sp_key_rotation_cancelled', "Gatehouse's SAML key rotation cancelled"), ('sso.certificate_expiring', 'IdP certificate expiry notice sent'), ('sso.metadata_refreshed', 'IdP metadata refreshed'), ('sso.metadata_refresh_failed', 'IdP metadata refresh failed'), ('consent.granted', 'Consent given'), ('consent.withdrawn', 'Consent withdrawn'), ('consent.reconsent_required', 'Asked to accept a new policy version before continuing'), ('consent.policy_published', 'Policy version published'), ('consent.catalogue_changed', 'Consent purpose, policy document or draft changed'), ('consent.receipt_key_rotated', 'Consent receipt key rotated'), ('privacy.export_requested', 'Data export requested'), ('privacy.export_ready', 'Data export ready'), ('privacy.export_downloaded', 'Data export downloaded'), ('privacy.erasure_requested', 'Account erasure requested'), ('privacy.erasure_cancelled', 'Account erasure cancelled'), ('privacy.erasure_on_hold', 'Account erasure on hold'), ('privacy.user_erased', 'Account erased'), ('org.member_erased', "Member's account erased"), ('oauth.app_created', 'Application registered'), ('oauth.app_updated', 'Application changed'), ('oauth.app_disabled', 'Application turned off'), ('oauth.app_enabled', 'Application turned on'), ('oauth.client_secret_rotated', 'Client secret rotated'), ('oauth.api_created', 'API registered'), ('oauth.api_updated', 'API changed'), ('oauth.token_issued', 'Access token issued'), ('oauth.token_refused', 'Token request refused'), ('oauth.tokens_revoked', 'Tokens revoked'), ('oauth.authorized', 'Application authorized'), ('oauth.authorization_removed', 'Application access removed'), ('oauth.code_replayed', 'Authorization code used twice'), ('oauth.refresh_replayed', 'Refresh token used twice'), ('oauth.signing_key_created', 'Signing key created'), ('oauth.signing_key_activated', 'Signing key activated'), ('oauth.signing_key_retired', 'Signing key retired'), ('oauth.device_approved', 'Device sign-in approved'), ('oauth.device_denied', 'Device sign-in denied'), ('oauth.client_registered', 'Client self-registered (metadata document)'), ('oauth.logout', 'Signed out through an application'), ('oauth.api_user_created', 'Account created through the API'), ('scim.directory_enabled', 'SCIM directory turned on'), ('scim.directory_updated', 'SCIM directory settings changed'), ('scim.directory_paused', 'SCIM directory paused'), ('scim.directory_resumed', 'SCIM directory resumed'), ('scim.directory_disabled', 'SCIM directory turned off'), ('scim.token_created', 'SCIM token created'), ('scim.token_rotated', 'SCIM token rotated'), ('scim.token_revoked', 'SCIM token revoked'), ('scim.user_provisioned', 'User provisioned by the directory'), ('scim.user_updated', 'User updated by the directory'), ('scim.user_linked', 'Directory user linked to an account'), ('scim.user_not_admitted', 'Directory user given no account'), ('scim.user_deactivated', 'User deactivated by the directory'), ('scim.user_reactivated', 'User reactivated by the directory'), ('scim.user_deleted', 'User deleted by the directory'), ('scim.group_created', 'Group created by the directory'), ('scim.group_updated', 'Group updated by the directory'), ('scim.group_deleted', 'Group deleted by the directory'), ('scim.group_members_changed', 'Group members changed'), ('scim.group_role_set', 'Role mapped to a directory group'), ('scim.role_mapped', "Role set from the directory's groups"), ('audit.exported', 'Audit log exported'), ('audit.export_requested', 'Audit log export requested'), ('audit.export_ready', 'Audit log export ready'), ('audit.export_downloaded', 'Audit log export downloaded'), ('audit.purged', 'Old audit events deleted (retention)')], db_index=True, max_length=64),
        ),
        migrations.AddField(
            model_name='auditexport',
            name='organization',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='organizations.organization'),
        ),
        migrations.AddField(
            model_name='auditexport',
            name='requested_by',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddIndex(
            model_name='auditexport',
            index=models.Index(fields=['organization', '-created_at'], name='audit_audit_organiz_3b1ac9_idx'),
        ),
        migrations.AddIndex(
            model_name='auditexport',
            index=models.Index(fields=['status', 'expires_at'], name='audit_audit_status_cf62a5_idx'),
        ),
    ]
