"""Settings: read once, typed, and a missing variable is named, never replaced by a silent default."""

from __future__ import annotations

import dataclasses

import pytest

from functions.core import settings as settings_module
from functions.core.settings import ConfigError, Settings, get_settings, reset_settings

REQUIRED = {
    "IOP_STAGE": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
    "IOP_INTAKES_TABLE": "virtual-iop-test-intakes",
    "IOP_CRISIS_TABLE": "virtual-iop-test-crisis",
    "IOP_REMINDERS_TABLE": "virtual-iop-test-reminders",
    "IOP_CONTACTS_TABLE": "virtual-iop-test-contacts",
    "IOP_ELIGIBILITY_TABLE": "virtual-iop-test-eligibility",
    "IOP_AUDIT_TABLE": "virtual-iop-test-audit",
    "IOP_INSURANCE_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/virtual-iop-test-insurance-checks",
    "IOP_CRISIS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/virtual-iop-test-crisis-events",
    "IOP_INBOUND_SMS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/virtual-iop-test-inbound-sms",
    "IOP_SIGNING_SECRET_ID": "virtual-iop/test/signing",
    "IOP_SENDER_EMAIL": "no-reply@clinic.example",
    "IOP_INTAKE_STAFF_EMAIL": "intake@clinic.example",
    "IOP_CARE_TEAM_EMAIL": "care-team@clinic.example",
    "IOP_CLINIC_NAME": "Harbor Clinic",
    "IOP_CLINIC_PHONE": "+12025550100",
    "IOP_PUBLIC_BASE_URL": "https://www.clinic.example",
}


def test_complete_environment_gives_typed_settings_with_documented_defaults() -> None:
    s = Settings.from_env(dict(REQUIRED))
    assert s.stage == "test"
    assert s.crisis_table == "virtual-iop-test-crisis"
    assert s.inbound_sms_queue_url.endswith("/virtual-iop-test-inbound-sms")
    assert s.endpoint_url is None
    assert s.staff_auth == "cognito"  # AWS behaviour unless the local stack says otherwise
    assert s.sms_origination_number is None
    assert s.allowed_origins == ()
    assert s.ses_configuration_set is None


def test_the_example_environment_lists_every_required_variable() -> None:
    assert set(REQUIRED) == set(settings_module._ENV.values())


@pytest.mark.parametrize("missing", sorted(REQUIRED))
def test_each_missing_variable_is_named_in_the_error(missing: str) -> None:
    env = dict(REQUIRED)
    del env[missing]
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert missing in str(caught.value)


def test_an_empty_value_counts_as_missing_never_as_a_default() -> None:
    env = {**REQUIRED, "IOP_CRISIS_TABLE": "", "IOP_SENDER_EMAIL": ""}
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert str(caught.value) == "missing settings: IOP_CRISIS_TABLE, IOP_SENDER_EMAIL"


def test_an_empty_environment_lists_every_missing_name_and_no_value() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({})
    message = str(caught.value)
    for var in REQUIRED:
        assert var in message


def test_the_error_names_variables_but_never_echoes_values() -> None:
    env = {**REQUIRED, "IOP_STAFF_AUTH": "s3cr3t-value"}
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert "IOP_STAFF_AUTH" in str(caught.value)
    assert "s3cr3t-value" not in str(caught.value)


def test_optional_values_are_parsed() -> None:
    env = {
        **REQUIRED,
        "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
        "IOP_STAFF_AUTH": "local",
        "IOP_SMS_ORIGINATION_NUMBER": "+12025550100",
        "IOP_ALLOWED_ORIGINS": " https://www.clinic.example, http://127.0.0.1:8080 ,,",
        "IOP_SES_CONFIGURATION_SET": "virtual-iop-test",
    }
    s = Settings.from_env(env)
    assert s.endpoint_url == "http://127.0.0.1:4566"
    assert s.staff_auth == "local"
    assert s.sms_origination_number == "+12025550100"
    assert s.allowed_origins == ("https://www.clinic.example", "http://127.0.0.1:8080")
    assert s.ses_configuration_set == "virtual-iop-test"


def test_empty_optional_values_are_absent() -> None:
    """The template passes SmsOriginationNumber="" by default: that means none, not an empty number."""
    s = Settings.from_env({**REQUIRED, "IOP_SMS_ORIGINATION_NUMBER": "", "IOP_ALLOWED_ORIGINS": ""})
    assert s.sms_origination_number is None
    assert s.allowed_origins == ()


def test_as_env_round_trips() -> None:
    full = Settings.from_env(
        {
            **REQUIRED,
            "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
            "IOP_STAFF_AUTH": "local",
            "IOP_ALLOWED_ORIGINS": "https://www.clinic.example,http://127.0.0.1:8080",
        }
    )
    assert Settings.from_env(full.as_env()) == full
    minimal = Settings.from_env(dict(REQUIRED))
    assert Settings.from_env(minimal.as_env()) == minimal
    env = minimal.as_env()
    assert "AWS_ENDPOINT_URL" not in env  # None is left out, not written as "None"
    assert "IOP_ALLOWED_ORIGINS" not in env


def test_as_env_covers_every_field() -> None:
    optional = {var: "https://x.example" for var in settings_module._OPTIONAL.values()}
    optional["IOP_STAFF_AUTH"] = "local"
    s = Settings.from_env({**REQUIRED, **optional})
    assert len(s.as_env()) == len(dataclasses.fields(Settings))
    assert Settings.from_env(s.as_env()) == s


def test_settings_are_frozen() -> None:
    s = Settings.from_env(dict(REQUIRED))
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.stage = "prod"  # type: ignore[misc]


def test_get_settings_reads_once_until_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    for var, value in REQUIRED.items():
        monkeypatch.setenv(var, value)
    reset_settings()
    try:
        first = get_settings()
        monkeypatch.setenv("IOP_CLINIC_NAME", "Other Clinic")
        assert get_settings() is first
        reset_settings()
        assert get_settings().clinic_name == "Other Clinic"
    finally:
        reset_settings()


def test_get_settings_fails_loudly_without_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in REQUIRED:
        monkeypatch.delenv(var, raising=False)
    reset_settings()
    try:
        with pytest.raises(ConfigError, match="IOP_INTAKES_TABLE"):
            get_settings()
    finally:
        reset_settings()


def test_aws_env_fixture_gives_complete_settings(aws_env: dict[str, str]) -> None:
    s = get_settings()
    assert s.stage == "test"
    assert s.staff_auth == "local"
    assert s.intakes_table == "virtual-iop-test-intakes"
    assert s.endpoint_url is None
