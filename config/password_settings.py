"""Passwords and sign-up codes: the validators every password passes (sign-up, change, set,
reset), the offline and opt-in breach checks, and the emailed sign-up code's resend rules.
Imported by name into config/settings.py."""

from config.env import env_bool, env_int, env_str

PASSWORD_HASHERS = [
    # Argon2id at OWASP parameters first: every new hash, and every re-hash at a successful
    # sign-in of a password stored any other way. The rest only verify.
    "accounts.hashers.GatehouseArgon2Hasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    # Hashes imported from other systems (accounts/imports/hashers.py): they never make a
    # hash, and the first successful sign-in replaces theirs with Argon2id.
    "accounts.imports.hashers.ImportedBcryptHasher",
    "accounts.imports.hashers.ImportedPBKDF2Hasher",
    "accounts.imports.hashers.FirebaseScryptHasher",
    "accounts.imports.hashers.LegacyCheckHasher",
]

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("email", "display_name")},
    },
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    # zxcvbn's estimate, its feedback as the message (accounts/passwords/); then the breach
    # corpus shipped with zxcvbn, and the Pwned Passwords range check when turned on.
    {"NAME": "accounts.passwords.validators.StrengthValidator"},
    {"NAME": "accounts.passwords.validators.BreachedPasswordValidator"},
]
# Passwords longer than this are refused before any estimate or hash (zxcvbn's cost grows
# with the length; Argon2 would hash megabytes).
GATEHOUSE_PASSWORD_MAX_LENGTH = env_int("PASSWORD_MAX_LENGTH", 128)
# zxcvbn's score, 0 (guessable) to 4; a password must reach this one.
GATEHOUSE_PASSWORD_MIN_SCORE = env_int("PASSWORD_MIN_SCORE", 3)
# Pwned Passwords' k-anonymity range API: off by default (no network at run time); when on,
# only the first five hex digits of the password's SHA-1 leave, the answer is padded, and a
# slow or failed call lets the password through with a log line (fail open).
GATEHOUSE_PWNED_PASSWORDS_CHECK = env_bool("PWNED_PASSWORDS_CHECK", False)
GATEHOUSE_PWNED_PASSWORDS_URL = env_str(
    "PWNED_PASSWORDS_URL", "https://api.pwnedpasswords.com/range/"
)
GATEHOUSE_PWNED_PASSWORDS_TIMEOUT_MS = env_int("PWNED_PASSWORDS_TIMEOUT_MS", 1500)

# The emailed sign-up code (accounts/signup_code.py): a new one at most every this many
# seconds, and at most this many new ones per sign-up.
GATEHOUSE_SIGNUP_CODE_RESEND_COOLDOWN = env_int("SIGNUP_CODE_RESEND_COOLDOWN", 60)
GATEHOUSE_SIGNUP_CODE_MAX_RESENDS = env_int("SIGNUP_CODE_MAX_RESENDS", 3)
