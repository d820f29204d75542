"""Progressive profiling: the operator's profile fields asked at sign-up, after a number of
sign-ins, and kept on the person's profile; answers encrypted, audited without their values,
asked once, optional ones skippable and the skip remembered."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from accounts.models import ProfileAnswer, User
from accounts.profiling.models import ProfileField
from accounts.profiling.selectors import values_by_key
from audit.models import AuditEvent
from tests.accounts.profiling_helpers import field
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db
STRONG = "violet-Anchor-quarry-81"
QUESTIONS = "/account/profile/questions/"


def sign_up(client: Client, email: str, **extra: str):
    return client.post("/accounts/signup/", {"email": email, "password1": STRONG, **extra})


def log_in(client: Client, user: User):
    response = client.post("/accounts/login/", {"login": user.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302, response.content[:500]
    return response


# --- Sign-up ----------------------------------------------------------------------------------


def test_signup_form_shows_the_signup_fields_and_not_the_others(client):
    field("company", "company", required=True, label="Company name")
    field("newsletter_topic", "choice", options="Security\nProduct")
    field("phone", "phone", ask_when=ProfileField.When.SIGN_INS, after_sign_ins=2)

    page = client.get("/accounts/signup/")

    assert b'name="profile_company"' in page.content
    assert b"Company name" in page.content
    assert b'name="profile_newsletter_topic"' in page.content
    assert b'name="profile_phone"' not in page.content


def test_required_signup_field_is_enforced_and_nothing_is_written(client):
    field("company", "company", required=True)

    response = sign_up(client, "ada@example.com")

    assert response.status_code == 200
    assert "profile_company" in response.context["form"].errors
    assert not User.objects.exists()
    assert not ProfileAnswer.objects.exists()


def test_signup_answers_are_kept_encrypted_and_optional_blanks_are_skips(client):
    company = field("company", "company", required=True)
    topic = field("newsletter_topic", "choice", options="Security\nProduct")

    response = sign_up(client, "ada@example.com", profile_company="  Analytical Engines Ltd ")

    assert response.status_code == 302
    user = User.objects.get()
    assert values_by_key(user) == {"company": "Analytical Engines Ltd"}
    stored = ProfileAnswer.objects.get(user=user, field=company)
    assert "Analytical" not in stored.value_encrypted, "kept encrypted at rest"
    assert ProfileAnswer.objects.get(user=user, field=topic).skipped
    event = AuditEvent.objects.get(action="profile.updated", target_id=str(user.pk))
    assert event.data == {"fields": ["company"], "skipped": ["newsletter_topic"]}
    assert "Analytical" not in str(event.data)


def test_signup_with_a_taken_address_writes_no_answers_and_looks_the_same(client):
    field("company", "company", required=True)
    owner = UserFactory(email="taken@example.com")

    taken = sign_up(client, "taken@example.com", profile_company="Decoy Ltd")
    free = sign_up(Client(), "free@example.com", profile_company="Real Ltd")

    assert taken.status_code == free.status_code == 302
    assert taken["Location"] == free["Location"]
    assert not ProfileAnswer.objects.filter(user=owner).exists()
    assert ProfileAnswer.objects.count() == 1  # the new account's; the decoy's rolled back


def test_choice_outside_the_list_and_bad_date_are_clear_errors(client):
    field("plan", "choice", options="Free\nTeam", required=True)
    field("birthday", "date")

    response = sign_up(
        client, "ada@example.com", profile_plan="Enterprise", profile_birthday="31/31"
    )

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "Select a valid choice" in errors["profile_plan"][0]
    assert errors["profile_birthday"] == ["Enter a date such as 2026-12-31."]
    assert not User.objects.exists()


# --- Phone numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("not a number", "with its country code"),
        ("020 7946 0000", "with its country code"),
        ("+44 12", "not a valid phone number"),
        ("+44" + "9" * 37, "not a valid phone number"),
    ],
)
def test_bad_phone_numbers_get_a_clear_error_never_a_500(client, typed, message):
    field("phone", "phone", required=True)

    response = sign_up(client, "ada@example.com", profile_phone=typed)

    assert response.status_code == 200
    assert message in response.context["form"].errors["profile_phone"][0]
    assert not User.objects.exists()


def test_oversized_phone_input_is_refused(client):
    field("phone", "phone")
    response = sign_up(client, "ada@example.com", profile_phone="+4" + "4" * 5000)
    assert response.status_code == 200
    assert "profile_phone" in response.context["form"].errors


def test_phone_is_normalised_to_e164(client):
    field("phone", "phone", required=True)

    sign_up(client, "ada@example.com", profile_phone="+44 (0)20 7946 0000")

    assert values_by_key(User.objects.get()) == {"phone": "+442079460000"}


# --- After N sign-ins ----------------------------------------------------------------------------


def test_fields_are_asked_after_the_nth_sign_in_once(user):
    field("company", "company", ask_when=ProfileField.When.SIGN_INS, after_sign_ins=2)
    first = Client()
    log_in(first, user)
    assert first.get("/account/").status_code == 200, "not asked at the first sign-in"

    second = Client()
    log_in(second, user)
    page = second.get("/account/")
    assert page.status_code == 302
    assert page["Location"].startswith(QUESTIONS)
    questions = second.get(page["Location"])
    assert b'name="profile_company"' in questions.content
    done = second.post(page["Location"], {"action": "save", "profile_company": "Hopper & Co"})
    assert done.status_code == 302
    assert done["Location"] == "/account/"
    assert second.get("/account/").status_code == 200
    assert values_by_key(user) == {"company": "Hopper & Co"}

    third = Client()
    log_in(third, user)
    assert third.get("/account/").status_code == 200, "asked once"


def test_skipping_an_optional_field_is_remembered(user):
    company = field("company", "company", ask_when=ProfileField.When.SIGN_INS, after_sign_ins=1)
    client = Client()
    log_in(client, user)
    page = client.get("/account/sessions/")
    assert page["Location"].startswith(QUESTIONS)
    assert b"profile-questions-skip" in client.get(page["Location"]).content

    skipped = client.post(page["Location"], {"action": "skip"})

    assert skipped.status_code == 302
    assert skipped["Location"] == "/account/sessions/"
    assert ProfileAnswer.objects.get(user=user, field=company).skipped
    again = Client()
    log_in(again, user)
    assert again.get("/account/").status_code == 200, "a skip is not asked again"


def test_a_required_field_cannot_be_skipped(user):
    field("phone", "phone", required=True, ask_when=ProfileField.When.SIGN_INS, after_sign_ins=1)
    client = Client()
    log_in(client, user)
    location = client.get("/account/")["Location"]
    page = client.get(location)
    assert b"profile-questions-skip" not in page.content

    refused = client.post(location, {"action": "skip"})

    assert refused.status_code == 400
    assert "profile_phone" in refused.context["form"].errors
    assert not ProfileAnswer.objects.exists()
    assert client.get("/account/")["Location"].startswith(QUESTIONS), "still asked"
    bad = client.post(location, {"action": "save", "profile_phone": "12"})
    assert bad.status_code == 400
    assert "country code" in bad.context["form"].errors["profile_phone"][0]


def test_pending_questions_do_not_trap_logout_api_or_posts(user):
    field(
        "company", "company", required=True, ask_when=ProfileField.When.SIGN_INS, after_sign_ins=1
    )
    client = Client()
    log_in(client, user)
    assert client.get("/account/")["Location"].startswith(QUESTIONS)

    assert client.get("/api/v1/me/consents/").status_code != 302
    assert client.post("/account/", {"display_name": "Grace"}).status_code == 302
    user.refresh_from_db()
    assert user.display_name == "Grace"
    out = client.post("/accounts/logout/")
    assert out.status_code == 302
    assert "_auth_user_id" not in client.session


def test_questions_page_refuses_an_outside_next(user):
    field("company", "company", ask_when=ProfileField.When.SIGN_INS, after_sign_ins=1)
    client = Client()
    log_in(client, user)

    done = client.post(
        f"{QUESTIONS}?next=https://evil.example/", {"action": "save", "profile_company": "X"}
    )

    assert done.status_code == 302
    assert done["Location"] == "/account/"


def test_questions_page_with_nothing_due_goes_on(logged_in_client):
    response = logged_in_client.get(f"{QUESTIONS}?next=/account/sessions/&scope=phone")
    assert response.status_code == 302
    assert response["Location"] == "/account/sessions/"


# --- The profile page ----------------------------------------------------------------------------


def test_values_are_shown_and_edited_on_the_profile_page(logged_in_client, user):
    field("company", "company")
    field("phone", "phone", ask_when=ProfileField.When.SCOPE)
    field("vip", "yes_no", ask_when=ProfileField.When.SCOPE)
    logged_in_client.post("/account/", {"profile_company": "Hopper & Co"})

    page = logged_in_client.get("/account/")
    assert b'value="Hopper &amp; Co"' in page.content
    saved = logged_in_client.post(
        "/account/",
        {
            "profile_company": "Hopper & Co",
            "profile_phone": "+1 202 555 0143",
            "profile_vip": "yes",
        },
    )

    assert saved.status_code == 302
    assert values_by_key(user) == {"company": "Hopper & Co", "phone": "+12025550143", "vip": "yes"}
    events = AuditEvent.objects.filter(action="profile.updated").order_by("occurred_at", "id")
    assert [e.data for e in events if "fields" in e.data] == [
        {"fields": ["company"]},
        {"fields": ["phone", "vip"]},
    ]
    assert "555" not in str([e.data for e in events]), "values never reach the audit log"


def test_profile_page_refuses_a_bad_phone_and_keeps_the_old_value(logged_in_client, user):
    field("phone", "phone")
    logged_in_client.post("/account/", {"profile_phone": "+12025550143"})

    response = logged_in_client.post("/account/", {"profile_phone": "555"})

    assert response.status_code == 400
    assert "profile_phone" in response.context["form"].errors
    assert values_by_key(user) == {"phone": "+12025550143"}


def test_clearing_an_optional_value_is_a_skip(logged_in_client, user):
    company = field("company", "company")
    logged_in_client.post("/account/", {"profile_company": "Hopper & Co"})

    logged_in_client.post("/account/", {"profile_company": ""})

    answer = ProfileAnswer.objects.get(user=user, field=company)
    assert answer.skipped
    assert values_by_key(user) == {}


# --- Declaring fields ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "error_field"),
    [
        ({"key": "Bad Key"}, "key"),
        ({"key": "email"}, "key"),
        ({"kind": "choice", "options": ""}, "options"),
        ({"kind": "choice", "options": "A\nA"}, "options"),
        ({"ask_when": "sign_ins", "after_sign_ins": 0}, "after_sign_ins"),
    ],
)
def test_bad_field_declarations_are_refused(changes, error_field):
    values = {"key": "company", "label": "Company", "kind": "text", "ask_when": "signup"}
    values.update(changes)
    with pytest.raises(ValidationError) as refused:
        ProfileField(**values).full_clean()
    assert error_field in refused.value.message_dict


def test_name_and_phone_fields_take_their_standard_scopes():
    assert field("full_name", "name", scope="profile_fields").scope == "profile"
    assert field("mobile", "phone", scope="profile_fields").scope == "phone"


def test_staff_declare_a_field_in_the_admin_and_it_is_audited():
    from tests.conftest import force_login_verified

    staff = UserFactory(is_staff=True, is_superuser=True)
    client = force_login_verified(Client(), staff)
    form = {
        "key": "plan",
        "label": "Your plan",
        "help_text": "",
        "kind": "choice",
        "options": "Free\nTeam",
        "ask_when": "sign_ins",
        "after_sign_ins": "3",
        "scope": "profile_fields",
        "position": "0",
        "active": "on",
    }

    empty = client.post("/admin/accounts/profilefield/add/", {**form, "options": ""})
    assert empty.status_code == 200
    assert not ProfileField.objects.exists()
    added = client.post("/admin/accounts/profilefield/add/", form)

    assert added.status_code == 302
    plan = ProfileField.objects.get()
    assert plan.option_list() == ["Free", "Team"]
    event = AuditEvent.objects.get(action="profile.field_changed")
    assert event.data["field"] == "plan"
    assert event.data["created"] is True
    change = client.get(f"/admin/accounts/profilefield/{plan.pk}/change/")
    assert b'name="key"' not in change.content, "the key is fixed once saved"
    assert client.get(f"/admin/accounts/profilefield/{plan.pk}/delete/").status_code == 403


def test_signup_fields_keep_a_taken_address_costing_what_a_new_one_does(monkeypatch):
    """accounts/enumeration.py: the decoy of a taken address saves its answers too (rolled
    back), so the statements, hashes and emails of both paths stay the same."""
    from collections import Counter

    from tests.accounts.work import WorkMeter

    field("company", "company", required=True)
    field("newsletter", "yes_no")
    UserFactory(email="known@example.com")
    meter = WorkMeter(monkeypatch)
    form = {"password1": STRONG, "profile_company": "Acme"}
    meter.post("/accounts/signup/", {"email": "warm-up@example.com", **form})

    taken = meter.post("/accounts/signup/", {"email": "known@example.com", **form})
    fresh = meter.post("/accounts/signup/", {"email": "fresh@example.com", **form})

    assert taken.without(statements=Counter({"ROLLBACK TO SAVEPOINT": 1})) == fresh
    assert fresh.statements["INSERT accounts_profileanswer"] == 2
