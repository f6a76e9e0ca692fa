"""One typed settings object, read once from the environment.

Every table and queue name and every secret id comes from here; a missing one is a configuration error at the
first use, never a silent default. In AWS the values are set by the packaged template; in the
local stack by ``local.provision`` from the same template.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Literal


class ConfigError(RuntimeError):
    """A required setting is missing or malformed (names the variable, never a value)."""


_ENV = {
    "stage": "IOP_STAGE",
    "region": "AWS_DEFAULT_REGION",
    "intakes_table": "IOP_INTAKES_TABLE",
    "crisis_table": "IOP_CRISIS_TABLE",
    "reminders_table": "IOP_REMINDERS_TABLE",
    "contacts_table": "IOP_CONTACTS_TABLE",
    "eligibility_table": "IOP_ELIGIBILITY_TABLE",
    "audit_table": "IOP_AUDIT_TABLE",  # staff access audit: append-only (functions/audit/store.py)
    "insurance_queue_url": "IOP_INSURANCE_QUEUE_URL",
    "crisis_queue_url": "IOP_CRISIS_QUEUE_URL",
    "inbound_sms_queue_url": "IOP_INBOUND_SMS_QUEUE_URL",
    "signing_secret_id": "IOP_SIGNING_SECRET_ID",
    "sender_email": "IOP_SENDER_EMAIL",
    "intake_staff_email": "IOP_INTAKE_STAFF_EMAIL",
    "care_team_email": "IOP_CARE_TEAM_EMAIL",  # check-in and repeat-screening alerts
    "clinic_name": "IOP_CLINIC_NAME",
    "clinic_phone": "IOP_CLINIC_PHONE",
    "public_base_url": "IOP_PUBLIC_BASE_URL",
}
_OPTIONAL = {
    "endpoint_url": "AWS_ENDPOINT_URL",
    "staff_auth": "IOP_STAFF_AUTH",
    "sms_origination_number": "IOP_SMS_ORIGINATION_NUMBER",
    "allowed_origins": "IOP_ALLOWED_ORIGINS",
    "ses_configuration_set": "IOP_SES_CONFIGURATION_SET",
    "api_base_url": "IOP_API_BASE_URL",
    "eligibility_secret_id": "IOP_ELIGIBILITY_SECRET_ID",
    "checkin_default_plan": "IOP_CHECKIN_DEFAULT_PLAN",  # "mon,wed,fri@19:00" (the default) or "none"
}


@dataclass(frozen=True)
class Settings:
    stage: str
    region: str
    intakes_table: str
    crisis_table: str
    reminders_table: str
    contacts_table: str
    eligibility_table: str
    audit_table: str
    insurance_queue_url: str
    crisis_queue_url: str
    inbound_sms_queue_url: str
    signing_secret_id: str
    sender_email: str
    intake_staff_email: str
    care_team_email: str
    clinic_name: str
    clinic_phone: str
    public_base_url: str
    endpoint_url: str | None = None
    staff_auth: Literal["cognito", "local"] = "cognito"
    sms_origination_number: str | None = None
    allowed_origins: tuple[str, ...] = ()
    ses_configuration_set: str | None = None
    api_base_url: str | None = None  # the API's public URL (signed links in alerts point here)
    eligibility_secret_id: str | None = None  # {"base_url", "api_key"} of the eligibility API
    checkin_default_plan: str | None = None  # the clinic's default check-in plan (functions/checkins)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        source = dict(os.environ) if env is None else env
        missing = [var for var in _ENV.values() if not source.get(var)]
        if missing:
            raise ConfigError("missing settings: " + ", ".join(sorted(missing)))
        values: dict[str, object] = {key: source[var] for key, var in _ENV.items()}
        for key, var in _OPTIONAL.items():
            raw = source.get(var) or None
            if raw is None:
                continue
            if key == "allowed_origins":
                values[key] = tuple(o.strip() for o in raw.split(",") if o.strip())
            elif key == "staff_auth":
                if raw not in ("cognito", "local"):
                    raise ConfigError(f"{var} must be 'cognito' or 'local'")
                values[key] = raw
            else:
                values[key] = raw
        return cls(**values)  # type: ignore[arg-type]

    def as_env(self) -> dict[str, str]:
        """The environment that reproduces these settings (used by the local stack)."""
        out: dict[str, str] = {}
        names = {**_ENV, **_OPTIONAL}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None or value == ():
                continue
            out[names[f.name]] = ",".join(value) if isinstance(value, tuple) else str(value)
        return out


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()


def reset_settings() -> None:
    """Forget the cached settings (tests and the local stack after provisioning)."""
    get_settings.cache_clear()
