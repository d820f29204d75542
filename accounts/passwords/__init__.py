"""Password strength and breach checks: one estimator (zxcvbn) behind the validators that
refuse a password and the meter that shows the person why, as they type."""
