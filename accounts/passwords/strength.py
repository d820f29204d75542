"""zxcvbn's estimate of a password, with the rules the form shows as they are met.

The meter in the browser (static/gatehouse/passwords.js) asks the server for this same
estimate (accounts/passwords/views.py), so the feedback the person sees while typing is the one
the validator gives when the form is sent: one estimator, in Python, nothing to build or fetch
at run time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from zxcvbn import zxcvbn

MIN_LENGTH = 10  # MinimumLengthValidator's, config/password_settings.py

LABELS = ("Very weak", "Weak", "Fair", "Strong", "Very strong")


def max_length() -> int:
    return int(settings.GATEHOUSE_PASSWORD_MAX_LENGTH)


def min_score() -> int:
    return int(settings.GATEHOUSE_PASSWORD_MIN_SCORE)


@dataclass
class Estimate:
    score: int
    warning: str
    suggestions: list[str] = field(default_factory=list)
    rules: dict[str, bool] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return LABELS[self.score]

    @property
    def strong_enough(self) -> bool:
        return self.score >= min_score()

    def as_json(self) -> dict[str, object]:
        return {
            "score": self.score,
            "label": self.label,
            "warning": self.warning,
            "suggestions": self.suggestions,
            "rules": self.rules,
            "acceptable": all(self.rules.values()),
        }


def estimate(password: str, user_inputs: Iterable[str] = ()) -> Estimate:
    """zxcvbn's score and feedback for ``password``, guessing words taken from ``user_inputs``
    (the address, the name) first. A password over the maximum length is not estimated (its
    cost grows with the length); it fails the length rule instead."""
    too_long = len(password) > max_length()
    inputs = [str(value)[:100] for value in user_inputs if value][:5]
    if password and not too_long:
        result = zxcvbn(password, user_inputs=inputs)
        score = int(result["score"])
        feedback = result.get("feedback") or {}
        warning = str(feedback.get("warning") or "")
        suggestions = [str(s) for s in feedback.get("suggestions") or []]
    else:
        score, warning, suggestions = 0, "", []
    rules = {
        "length": MIN_LENGTH <= len(password) <= max_length(),
        "strength": score >= min_score(),
        "not_breached": bool(password) and not too_long and not _in_offline_corpus(password),
    }
    return Estimate(score=score, warning=warning, suggestions=suggestions, rules=rules)


def _in_offline_corpus(password: str) -> bool:
    from accounts.passwords.breach import in_offline_corpus

    return in_offline_corpus(password)
