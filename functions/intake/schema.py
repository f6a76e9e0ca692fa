"""The ``POST /intake`` body, its validation, and the response bodies.

Entry point: :func:`parse_intake` turns any decoded JSON value into an :class:`IntakeRequest` or
raises :class:`~functions.intake.errors.ValidationFailed` whose errors name the field as a dotted
path (``patient.phone``, ``screening.phq9.3``) and say in plain words what to fix. No message
ever repeats what the patient typed. The body and the rules beyond the field types (unknown
fields, strict types, addresses, phones, time zones, age, consent per channel, the C-SSRS skip
logic) are written out in docs/api.md, "POST /intake"; a rule changed here changes there.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from functools import lru_cache
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError

from functions.core.ids import INTAKE_ID_PATTERN, INTAKE_ID_RE
from functions.intake.errors import FieldError, ValidationFailed

MIN_AGE = 12
MAX_AGE = 120
DEFAULT_COUNTRY = "US"
MAX_ERRORS = 50  # a body full of unknown keys gets the first 50 errors, not thousands

SessionTime = Literal["morning", "afternoon", "evening"]
Channel = Literal["sms", "email"]
Language = Literal["en", "es"]
SubscriberRelationship = Literal["self", "spouse", "child", "other"]

# USPS codes: 50 states, DC, territories, military (armed forces) addresses.
US_STATE_CODES = frozenset(
    re.findall(
        r"[A-Z]{2}",
        "AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM "
        "NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC PR GU VI AS MP AA AE AP",
    )
)

# Messages a patient reads next to the field. None of them may contain the submitted value.
MSG_REQUIRED = "This field is required"
MSG_EXTRA = "This field is not part of the form"
MSG_PHONE = "Enter a phone number we can call or text, like (212) 201-4477"
MSG_EMAIL = "Enter an email address like name@example.com"
MSG_CONTACT = "Enter a phone number or an email address so we can reach you"
MSG_ITEM = "Must be a number from 0 to 3"
MSG_DATE = "Enter the date as year-month-day, like 1990-04-25"
MSG_TIMEZONE = "Choose your time zone from the list, like America/New_York"
_FALLBACK = "Check this answer and try again"

_CUSTOM = "intake_"  # prefix of the error types raised here: their message is already final


def _fail(kind: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(_CUSTOM + kind, message)


# --- reusable field types ---------------------------------------------------------------------


def _clean_text(value: str) -> str:
    value = unicodedata.normalize("NFC", value)
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise _fail("text", "Remove line breaks, tabs and other special characters")
    return value


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50), AfterValidator(_clean_text)
]
NameText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), AfterValidator(_clean_text)
]
LongText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(_clean_text)
]
OptionalShortText = Annotated[ShortText | None, BeforeValidator(_blank_to_none)]
OptionalLongText = Annotated[LongText | None, BeforeValidator(_blank_to_none)]
PhoneText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
OptionalPhoneText = Annotated[PhoneText | None, BeforeValidator(_blank_to_none)]
OptionalEmailText = Annotated[
    Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=254)] | None,
    BeforeValidator(_blank_to_none),
]
PostalText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]
ScreeningItem = Annotated[StrictInt, Field(ge=0, le=3)]


# --- phones, emails, time zones, dates -------------------------------------------------------


def normalise_phone(raw: str, region: str = DEFAULT_COUNTRY) -> str | None:
    """E.164 form of ``raw`` (``+`` numbers as given, national numbers read in ``region``), or
    None when it is not a valid number we could call or text (extensions included)."""
    if not isinstance(raw, str) or len(raw) > 40:
        return None
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if number.extension or not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_EMAIL_RE = re.compile(
    r"(?P<local>[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*)"
    r"@(?P<domain>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})"
)


def normalise_email(raw: str) -> str | None:
    """``raw`` with its domain lower-cased, or None when it is not a plain ASCII address."""
    match = _EMAIL_RE.fullmatch(raw)
    if match is None or len(raw) > 254 or len(match["local"]) > 64:
        return None
    return f"{match['local']}@{match['domain'].lower()}"


_TZ_RE = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+){0,2}")
_TZ_NOT_ZONES = frozenset({"Factory", "localtime", "posixrules"})


@lru_cache(maxsize=256)
def is_valid_timezone(name: str) -> bool:
    """True for an IANA zone name ZoneInfo can load. Names are checked against a strict pattern
    first, so nothing path-like (``..``, ``/etc/...``, ``\\``) ever reaches the file system."""
    if not name or len(name) > 64 or ".." in name or _TZ_RE.fullmatch(name) is None:
        return False
    if name in _TZ_NOT_ZONES or name.startswith(("posix/", "right/")):
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


_ISO_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date(value: Any) -> Any:
    if isinstance(value, datetime):
        raise _fail("date", MSG_DATE)
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or _ISO_DATE_RE.fullmatch(value.strip()) is None:
        raise _fail("date", MSG_DATE)
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise _fail("date", "Enter a real date, like 1990-04-25") from None


def age_on(born: date, today: date) -> int:
    """Whole years between ``born`` and ``today``."""
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _today(info: ValidationInfo) -> date:
    today = info.context.get("today") if isinstance(info.context, dict) else None
    if isinstance(today, datetime):
        return today.date()
    if not isinstance(today, date):
        raise TypeError('validate with context={"today": date} (or call parse_intake)')
    return today


def _context_region(info: ValidationInfo) -> str:
    region = info.context.get("phone_region") if isinstance(info.context, dict) else None
    return region if isinstance(region, str) and region in phonenumbers.SUPPORTED_REGIONS else DEFAULT_COUNTRY


# --- request models ---------------------------------------------------------------------------


class _Form(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, hide_input_in_errors=True)


class Address(_Form):
    """A postal address."""

    # country comes first: the state and postal code checks depend on it.
    country: Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, max_length=2)] = Field(
        default=DEFAULT_COUNTRY, description="ISO 3166-1 alpha-2 code", examples=["US"]
    )
    line1: LongText
    line2: OptionalLongText = None
    city: NameText
    state: NameText = Field(description="USPS code such as NY when country is US")
    postal_code: PostalText = Field(description="5 or 9 digits when country is US")

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        if len(value) != 2 or value not in phonenumbers.SUPPORTED_REGIONS:
            raise _fail("country", "Use the 2-letter country code, like US")
        return value

    @field_validator("state")
    @classmethod
    def _state(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("country") == "US":
            code = value.upper()
            if code not in US_STATE_CODES:
                raise _fail("state", "Use the 2-letter state code, like NY")
            return code
        return value

    @field_validator("postal_code")
    @classmethod
    def _postal_code(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("country") == "US":
            match = re.fullmatch(r"(\d{5})(?:-?(\d{4}))?", value)
            if match is None:
                raise _fail("zip", "Enter a 5-digit ZIP code, like 10001 (or ZIP+4, like 10001-1234)")
            return match[1] if match[2] is None else f"{match[1]}-{match[2]}"
        if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9 -]*", value) is None:
            raise _fail("postal_code", "Use only letters, numbers, spaces and dashes")
        return value.upper()


class SameAsAddress(_Form):
    """The patient is at the home address given in patient.address."""

    same_as_address: Literal[True]


class CurrentAddress(Address):
    """Where the patient is now, when it is not the home address (crisis teams are local)."""

    same_as_address: Literal[False] = False


def _location_kind(value: Any) -> str:
    if isinstance(value, SameAsAddress):
        return "same"
    if isinstance(value, dict) and value.get("same_as_address") is True:
        return "same"
    return "address"


CurrentLocation = Annotated[
    Annotated[SameAsAddress, Tag("same")] | Annotated[CurrentAddress, Tag("address")],
    Discriminator(_location_kind),
]
_LOCATION_TAGS = frozenset({"same", "address"})


def _birth_date(value: date, today: date, *, min_age: int | None, old: str) -> date:
    """One date-of-birth rule for the patient (``min_age``) and a policy holder (no minimum)."""
    if value > today:
        raise _fail("dob_future", "Date of birth can't be in the future")
    age = age_on(value, today)
    if min_age is not None and age < min_age:
        raise _fail("dob_young", f"You must be at least {min_age} years old to use this form")
    if age > MAX_AGE:
        raise _fail("dob_old", old)
    return value


class Patient(_Form):
    first_name: NameText
    last_name: NameText
    date_of_birth: Annotated[date, BeforeValidator(_iso_date)]
    address: Address
    email: OptionalEmailText = None
    phone: OptionalPhoneText = Field(
        default=None, validate_default=True, description="E.164 (+12125550123) or a national number"
    )
    timezone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] = Field(
        description="IANA time zone name", examples=["America/New_York"]
    )

    @field_validator("date_of_birth")
    @classmethod
    def _date_of_birth(cls, value: date, info: ValidationInfo) -> date:
        return _birth_date(value, _today(info), min_age=MIN_AGE, old="Check the year of your date of birth")

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is None:
            return None
        email = normalise_email(value)
        if email is None:
            raise _fail("email", MSG_EMAIL)
        return email

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            # Only when email was given and valid-as-empty: a broken email has its own error.
            if "email" in info.data and info.data["email"] is None:
                raise _fail("contact", MSG_CONTACT)
            return None
        address = info.data.get("address")
        region = address.country if isinstance(address, Address) else _context_region(info)
        phone = normalise_phone(value, region)
        if phone is None:
            raise _fail("phone", MSG_PHONE)
        return phone

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        if not is_valid_timezone(value):
            raise _fail("timezone", MSG_TIMEZONE)
        return value


class EmergencyContact(_Form):
    name: NameText
    relationship: ShortText
    phone: PhoneText = Field(description="E.164 or a national number of the patient's country")

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str, info: ValidationInfo) -> str:
        phone = normalise_phone(value, _context_region(info))
        if phone is None:
            raise _fail("phone", MSG_PHONE)
        return phone


class Subscriber(_Form):
    """The policy holder when the patient is not (a parent, a spouse): the 270 names them."""

    first_name: NameText
    last_name: NameText
    date_of_birth: Annotated[date, BeforeValidator(_iso_date)]

    @field_validator("date_of_birth")
    @classmethod
    def _date_of_birth(cls, value: date, info: ValidationInfo) -> date:
        return _birth_date(value, _today(info), min_age=None, old="Check the year of the date of birth")


class Insurance(_Form):
    payer_id: ShortText
    payer_name: OptionalLongText = None
    member_id: ShortText
    group_number: OptionalShortText = None
    subscriber_relationship: SubscriberRelationship = "self"
    subscriber: Subscriber | None = Field(
        default=None,
        description="The policy holder, when subscriber_relationship is not self (optional: without it "
        "the patient is sent as the subscriber)",
    )

    @model_validator(mode="after")
    def _subscriber_only_for_dependents(self) -> Insurance:
        if self.subscriber is not None and self.subscriber_relationship == "self":
            raise ValidationError.from_exception_data(
                type(self).__name__,
                [
                    InitErrorDetails(
                        type=_fail(
                            "subscriber_self",
                            "Leave the policy holder out when you are the policy holder, or choose how "
                            "you are related to them",
                        ),
                        loc=("subscriber",),
                        input=None,
                    )
                ],
            )
        return self


class Cssrs(_Form):
    """C-SSRS screener answers. Questions 3-5 are asked only after a yes to question 2."""

    wish_to_be_dead: StrictBool = Field(description="Q1: wished you were dead or could go to sleep")
    suicidal_thoughts: StrictBool = Field(description="Q2: thoughts of killing yourself")
    thoughts_with_method: StrictBool | None = Field(
        default=None, validate_default=True, description="Q3: thought about how (asked if Q2 yes)"
    )
    intent: StrictBool | None = Field(
        default=None, validate_default=True, description="Q4: intention of acting on them (asked if Q2 yes)"
    )
    plan: StrictBool | None = Field(
        default=None, validate_default=True, description="Q5: worked out details or a plan (asked if Q2 yes)"
    )
    behavior_past_3_months: StrictBool = Field(description="Q6: any suicidal behaviour in the past 3 months")

    @field_validator("thoughts_with_method", "intent", "plan")
    @classmethod
    def _asked_after_yes(cls, value: bool | None, info: ValidationInfo) -> bool | None:
        if value is None and info.data.get("suicidal_thoughts") is True:
            raise _fail("cssrs_required", "Please answer this question")
        return value


class Screening(_Form):
    phq9: Annotated[list[ScreeningItem], Field(min_length=9, max_length=9)]
    gad7: Annotated[list[ScreeningItem], Field(min_length=7, max_length=7)]
    cssrs: Cssrs


class Preferences(_Form):
    channels: Annotated[list[Channel], Field(min_length=0, max_length=10), AfterValidator(_unique)]
    session_times: Annotated[list[SessionTime], Field(min_length=0, max_length=10), AfterValidator(_unique)]
    language: Language = "en"


def _agree_telehealth(value: bool) -> bool:
    if not value:
        raise _fail("consent", "Agree to receive care by video (telehealth) to continue")
    return value


def _agree_privacy(value: bool) -> bool:
    if not value:
        raise _fail("consent", "Confirm you have read the privacy notice to continue")
    return value


_MUST_BE_TRUE = Field(json_schema_extra={"const": True})


class Consent(_Form):
    telehealth: Annotated[StrictBool, AfterValidator(_agree_telehealth), _MUST_BE_TRUE]
    privacy_notice: Annotated[StrictBool, AfterValidator(_agree_privacy), _MUST_BE_TRUE]
    sms: StrictBool = False
    email: StrictBool = False
    signature: LongText


class IntakeRequest(_Form):
    """Body of POST /intake."""

    patient: Patient
    current_location: CurrentLocation
    emergency_contact: EmergencyContact
    insurance: Insurance | None = None
    screening: Screening
    preferences: Preferences
    consent: Consent

    @model_validator(mode="after")
    def _contact_matches_consent(self) -> IntakeRequest:
        problems: list[tuple[tuple[str, ...], str]] = []
        if self.consent.sms and self.patient.phone is None:
            problems.append(
                (("patient", "phone"), "Enter a phone number so we can text you, or turn off texts")
            )
        if self.consent.email and self.patient.email is None:
            problems.append(
                (("patient", "email"), "Enter an email address so we can email you, or turn off emails")
            )
        if "sms" in self.preferences.channels and not self.consent.sms:
            problems.append(
                (("consent", "sms"), "You chose text messages: agree to receive texts, or choose email only")
            )
        if "email" in self.preferences.channels and not self.consent.email:
            problems.append(
                (
                    ("consent", "email"),
                    "You chose email: agree to receive emails, or choose text messages only",
                )
            )
        if problems:
            raise ValidationError.from_exception_data(
                type(self).__name__,
                [
                    InitErrorDetails(type=_fail("consent_contact", msg), loc=loc, input=None)
                    for loc, msg in problems
                ],
            )
        return self

    def current_address(self) -> Address:
        """Where the patient is now: ``patient.address`` unless another address was given."""
        location = self.current_location
        return self.patient.address if isinstance(location, SameAsAddress) else location


# --- errors -----------------------------------------------------------------------------------

_Pattern = tuple[str, ...]
_PHQ9_MSG = "Answer all 9 questions"
_GAD7_MSG = "Answer all 7 questions"
_CHANNELS_MSG = "Choose how we can reach you: text message (sms), email, or both"
_TIMES_MSG = "Choose at least one time of day: morning, afternoon or evening"
_AGREE_MSG = "Tick the box to agree"
_LOCATION_MSG = "Tell us where you are now: at your home address, or give the address"

# (path with list indexes as "*", error type or "*") -> message
_BY_FIELD: dict[tuple[_Pattern, str], str] = {
    (("screening", "phq9"), "*"): _PHQ9_MSG,
    (("screening", "gad7"), "*"): _GAD7_MSG,
    (("screening", "phq9", "*"), "*"): MSG_ITEM,
    (("screening", "gad7", "*"), "*"): MSG_ITEM,
    (("preferences", "channels"), "*"): _CHANNELS_MSG,
    (("preferences", "channels", "*"), "*"): _CHANNELS_MSG,
    (("preferences", "session_times"), "*"): _TIMES_MSG,
    (("preferences", "session_times", "*"), "*"): _TIMES_MSG,
    (("preferences", "language"), "*"): "Choose English (en) or Spanish (es)",
    (("insurance", "subscriber_relationship"), "*"): "Choose self, spouse, child or other",
    (("current_location",), "*"): _LOCATION_MSG,
    (("current_location", "same_as_address"), "*"): _LOCATION_MSG,
    (("consent", "telehealth"), "*"): _AGREE_MSG,
    (("consent", "privacy_notice"), "*"): _AGREE_MSG,
    (("patient", "date_of_birth"), "*"): MSG_DATE,
    (("insurance", "subscriber", "date_of_birth"), "*"): MSG_DATE,
    (("patient", "phone"), "string_type"): MSG_PHONE,
    (("emergency_contact", "phone"), "string_type"): MSG_PHONE,
    (("patient", "email"), "string_type"): MSG_EMAIL,
    (("patient", "timezone"), "string_type"): MSG_TIMEZONE,
    (("patient", "timezone"), "string_too_long"): MSG_TIMEZONE,
    (("patient", "address", "country"), "*"): "Use the 2-letter country code, like US",
    (("current_location", "country"), "*"): "Use the 2-letter country code, like US",
}

_BY_TYPE: dict[str, str] = {
    "string_type": "Enter text here",
    "string_too_short": "This field can't be empty",
    "bool_type": "Choose yes or no",
    "bool_parsing": "Choose yes or no",
    "int_type": "Enter a whole number",
    "int_parsing": "Enter a whole number",
    "int_from_float": "Enter a whole number",
    "greater_than_equal": MSG_ITEM,
    "less_than_equal": MSG_ITEM,
    "list_type": "Choose from the options on the form",
    "too_short": "Choose from the options on the form",
    "too_long": "Choose from the options on the form",
    "literal_error": "Choose one of the options on the form",
    "model_type": "This part of the form is missing or not filled in correctly",
    "model_attributes_type": "This part of the form is missing or not filled in correctly",
    "dict_type": "This part of the form is missing or not filled in correctly",
}


def _path(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    # The tagged union adds its tag after "current_location": drop it so the path is the field's.
    if len(loc) >= 2 and loc[0] == "current_location" and loc[1] in _LOCATION_TAGS:
        return (loc[0], *loc[2:])
    return loc


def _message(error: ErrorDetails, path: tuple[int | str, ...]) -> str:
    kind = error["type"]
    if kind.startswith(_CUSTOM):
        return error["msg"]  # written in this module, never containing input
    if kind == "missing":
        return MSG_REQUIRED
    if kind == "extra_forbidden":
        return MSG_EXTRA
    if not path:
        return "Send the form as a JSON object"
    pattern = tuple("*" if isinstance(part, int) else part for part in path)
    for key in ((pattern, kind), (pattern, "*")):
        if key in _BY_FIELD:
            return _BY_FIELD[key]
    if kind == "string_too_long":
        limit = error.get("ctx", {}).get("max_length")
        return f"Use {limit} characters or fewer" if isinstance(limit, int) else "This is too long"
    return _BY_TYPE.get(kind, _FALLBACK)


def field_errors(exc: ValidationError) -> list[FieldError]:
    """Patient-readable errors of a pydantic ValidationError of :class:`IntakeRequest`."""
    result: list[FieldError] = []
    seen: set[tuple[str, str]] = set()
    for error in exc.errors(include_url=False, include_input=False):
        path = _path(error["loc"])
        field = ".".join(str(part)[:64] for part in path) or "body"
        message = _message(error, path)
        if (field, message) not in seen:
            seen.add((field, message))
            result.append({"field": field, "message": message})
        if len(result) >= MAX_ERRORS:
            break
    return result


def _phone_region(data: dict[Any, Any]) -> str:
    patient = data.get("patient")
    address = patient.get("address") if isinstance(patient, dict) else None
    country = address.get("country", DEFAULT_COUNTRY) if isinstance(address, dict) else None
    if isinstance(country, str) and country.strip().upper() in phonenumbers.SUPPORTED_REGIONS:
        return country.strip().upper()
    return DEFAULT_COUNTRY


def parse_intake(data: object, today: date) -> IntakeRequest:
    """Validate a decoded JSON body (any JSON value) against the intake form.

    ``today`` is the clinic's current date (ages are computed on it). Raises ValidationFailed
    with one FieldError per problem; a body that is not a JSON object gives a single error on
    field ``"body"``.
    """
    if not isinstance(data, dict):
        raise ValidationFailed([{"field": "body", "message": "Send the form as a JSON object"}])
    context = {"today": today, "phone_region": _phone_region(data)}
    try:
        return IntakeRequest.model_validate(data, context=context)
    except ValidationError as exc:
        raise ValidationFailed(field_errors(exc)) from None


def request_json_schema(ref_template: str = "#/$defs/{model}") -> dict[str, Any]:
    """JSON schema of the ``POST /intake`` body (nested models under ``$defs``). Pass
    ``ref_template="#/components/schemas/{model}"`` to lift the definitions into OpenAPI."""
    return IntakeRequest.model_json_schema(ref_template=ref_template)


# --- responses --------------------------------------------------------------------------------


class _Response(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CrisisLine(_Response):
    label: str
    action: str
    href: str = Field(description="tel: link the page can make a button of")


class CrisisResources(_Response):
    """What the page shows at once when the screen shows risk."""

    message: str
    lines: list[CrisisLine]


class IntakeAccepted(_Response):
    """Body of a 201 answer to POST /intake."""

    intake_id: str
    status: Literal["received"] = "received"
    crisis_resources: CrisisResources | None = None


class ErrorItem(_Response):
    field: str
    message: str


class ErrorBody(_Response):
    """Body of every 4xx answer: a list of fields and what to fix in each."""

    errors: list[ErrorItem]

    @classmethod
    def from_errors(cls, errors: list[FieldError]) -> ErrorBody:
        return cls(errors=[ErrorItem(field=e["field"], message=e["message"]) for e in errors])


CRISIS_MESSAGE = (
    "If you are thinking about suicide or might hurt yourself, please reach out now. "
    "You don't have to wait for your appointment: help is available 24 hours a day, 7 days a week. "
    "A member of our care team will also contact you soon."
)


def crisis_resources(clinic_name: str, clinic_phone: str) -> CrisisResources:
    """988 / 911 / clinic guidance for the page. Never raises on a badly configured clinic
    phone (a crisis page must always render): an unparseable number is shown as given."""
    name = " ".join(clinic_name.split()) or "Your care team"
    lines = [
        CrisisLine(
            label="988 Suicide & Crisis Lifeline",
            action="Call or text 988 (press 1 for veterans)",
            href="tel:988",
        ),
        CrisisLine(
            label="Emergency services",
            action="If you are in immediate danger, call 911 or go to the nearest emergency room",
            href="tel:911",
        ),
    ]
    e164 = normalise_phone(clinic_phone)
    if e164 is not None:
        number = phonenumbers.parse(e164)
        style = (
            phonenumbers.PhoneNumberFormat.NATIONAL
            if number.country_code == 1
            else phonenumbers.PhoneNumberFormat.INTERNATIONAL
        )
        lines.append(
            CrisisLine(
                label=name,
                action=f"Call us at {phonenumbers.format_number(number, style)}",
                href=f"tel:{e164}",
            )
        )
    elif clinic_phone.strip():
        digits = re.sub(r"[^0-9+]", "", clinic_phone)
        lines.append(
            CrisisLine(label=name, action=f"Call us at {clinic_phone.strip()}", href=f"tel:{digits}")
        )
    return CrisisResources(message=CRISIS_MESSAGE, lines=lines)


# --- POST /crisis ("I need help now") ---------------------------------------------------------

MAX_CRISIS_MESSAGE = 1000
MSG_CRISIS_CONTACT = "Enter a phone number so we can reach you"


def _crisis_message(value: Any) -> Any:
    # A person in crisis may type line breaks: keep them, turn other control characters into spaces.
    if not isinstance(value, str):
        return value
    value = unicodedata.normalize("NFC", value).replace("\r\n", "\n")
    value = "".join(" " if unicodedata.category(ch) == "Cc" and ch != "\n" else ch for ch in value).strip()
    return value or None


class CrisisRequest(_Form):
    """Body of POST /crisis: the intake it belongs to, or a phone number to call back (or both),
    and optionally a few words. The message is stored for the care team and never sent back."""

    intake_id: Annotated[str | None, Field(pattern=INTAKE_ID_PATTERN)] = Field(
        default=None, description="The intake_id a POST /intake answered with"
    )
    phone: Annotated[str | None, Field(max_length=40)] = Field(
        default=None, description="E.164 (+12125550123) or a US national number"
    )
    message: Annotated[
        Annotated[str, StringConstraints(max_length=MAX_CRISIS_MESSAGE)] | None, BeforeValidator(_crisis_message)
    ] = Field(default=None, description="A few words for the care team (stored, never sent back)")

    @field_validator("intake_id", mode="before")
    @classmethod
    def _intake_id(cls, value: Any) -> Any:
        value = _blank_to_none(value)
        if value is not None and (not isinstance(value, str) or INTAKE_ID_RE.fullmatch(value.strip()) is None):
            raise _fail("intake_id", "This form reference is not valid: give a phone number instead")
        return value.strip() if isinstance(value, str) else value

    @field_validator("phone", mode="before")
    @classmethod
    def _phone(cls, value: Any) -> Any:
        value = _blank_to_none(value)
        if value is None:
            return None
        phone = normalise_phone(value) if isinstance(value, str) else None
        if phone is None:
            raise _fail("phone", MSG_PHONE)
        return phone

    @model_validator(mode="after")
    def _someone_to_reach(self) -> CrisisRequest:
        if self.intake_id is None and self.phone is None:
            raise ValidationError.from_exception_data(
                type(self).__name__,
                [InitErrorDetails(type=_fail("crisis_contact", MSG_CRISIS_CONTACT), loc=("phone",), input=None)],
            )
        return self


def parse_crisis(data: object) -> CrisisRequest:
    """Validate a decoded POST /crisis body; raises ValidationFailed like :func:`parse_intake`."""
    if not isinstance(data, dict):
        raise ValidationFailed([{"field": "body", "message": "Send the request as a JSON object"}])
    try:
        return CrisisRequest.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(field_errors(exc)) from None


class CrisisAccepted(_Response):
    """Body of a 201 answer to POST /crisis: the care team has been alerted."""

    case: Literal["received"] = "received"
    crisis_resources: CrisisResources


class CrisisErrorBody(ErrorBody):
    """A 4xx answer to POST /crisis: what to fix, and the crisis resources all the same."""

    crisis_resources: CrisisResources
