"""The PHI-leak guard (tests/phi_guard.py) fails a test whose code emits synthetic PHI, and only then.

Each case runs a small test file in a fresh in-process pytest (pytester) with the guard and the
suite's ``aws`` fixture; the values are the sample patient's of ``events/api_intake.json``
(Jordan Sample, +12025550123, jordan.sample@example.com).
"""

from __future__ import annotations

import moto  # noqa: F401  (imported here so that pytester's sys.modules snapshot keeps one moto)
import pytest

from tests import phi_guard

pytest_plugins = ["pytester"]

CONFTEST = 'pytest_plugins = ["tests.phi_guard", "tests.conftest"]\n'


def run(pytester: pytest.Pytester, body: str) -> pytest.RunResult:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_inner="from __future__ import annotations\n" + body)
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q")


def test_a_test_that_logs_a_synthetic_phone_number_fails_and_a_clean_one_passes(pytester: pytest.Pytester) -> None:
    result = run(pytester, '''
import logging

def test_leaky():
    logging.getLogger("functions.reminders").warning("sms to (202) 555-0123 failed")

def test_clean():
    logging.getLogger("functions.reminders").warning("sms to itk_01J9ZQ failed")
''')
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_leaky*", "*[[]log[]] phone '(202) 555-0123'*test_inner.py*"])


def test_the_projects_log_formatter_output_is_what_counts(pytester: pytest.Pytester) -> None:
    # PhiSafeFormatter masks the phone (passes); it does not know names (fails).
    result = run(pytester, '''
from functions.core.log import get_logger

logger = get_logger("guard-demo")

def test_phone_masked_by_the_formatter():
    logger.info("sms to +12025550123 failed")

def test_name_in_a_log_line():
    logger.info("intake received from Jordan")
''')
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_name_in_a_log_line*", "*[[]log[]] name 'Jordan'*"])


def test_an_sms_body_with_a_patients_name_fails_but_the_patients_own_number_as_destination_is_fine(
    pytester: pytest.Pytester,
) -> None:
    result = run(pytester, '''
from functions.core.messaging import SnsSms

def test_named(aws):
    SnsSms().send_sms("+12025550123", "Hi Jordan, your session is tomorrow. Reply STOP to opt out.")

def test_minimum_necessary(aws):
    SnsSms().send_sms("+12025550123", "Harbor Clinic: session tomorrow 6 PM. Reply C to confirm, STOP to opt out.")
''')
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_named*", "*[[]sms[]] name 'Jordan' emitted at *functions/core/messaging.py:*"])


def test_an_sqs_message_attribute_with_an_email_fails(pytester: pytest.Pytester) -> None:
    result = run(pytester, '''
from functions.core.queues import SqsPublisher

def test_email_attribute(aws):
    SqsPublisher().publish(aws.queues["crisis-events"], {"case_id": "cas_1"}, dedup_id="jordan.sample@example.com")

def test_id_attribute(aws):
    SqsPublisher().publish(aws.queues["crisis-events"], {"case_id": "cas_1"}, dedup_id="cas_1:opened")
''')
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_email_attribute*", "*[[]sqs.attribute[]] email 'jordan.sample@example.com'*"])


def test_a_staff_email_body_counts_a_patient_email_body_does_not(pytester: pytest.Pytester) -> None:
    result = run(pytester, '''
from functions.core.messaging import Email, SesEmail

def test_to_staff(aws):
    SesEmail().send_email(Email("intake@clinic.example", "Intake needs review", "Member XEX900000001 inactive"))

def test_to_the_patient(aws):
    SesEmail().send_email(Email("jordan.sample@example.com", "Your intake", "Jordan, we received your form."))
''')
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_to_staff*", "*[[]email.text[]] member_id 'XEX900000001'*"])


def test_a_registered_value_counts_until_its_test_ends(pytester: pytest.Pytester) -> None:
    result = run(pytester, '''
import logging
from tests import phi_guard

def test_generated(phi_guard):
    phi_guard.register("Quillon", "+1 415 555 0144")
    logging.getLogger("functions.x").warning("patient Quillon at 415-555-0144")

def test_after():
    logging.getLogger("functions.x").warning("patient Quillon at 415-555-0144")
''')
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_generated*", "*name 'Quillon'*", "*phone '415-555-0144'*"])


def test_an_exception_raised_out_of_a_lambda_handler_counts(pytester: pytest.Pytester) -> None:
    result = run(pytester, '''
import pytest
from chalice.app import Blueprint

bp = Blueprint(__name__)

@bp.lambda_function(name="demo")
def handler(event, context):
    raise ValueError("no patient with date of birth " + event["dob"])

def test_raises(aws):
    with pytest.raises(ValueError):
        handler({"dob": "1990-04-12"}, None)
''')
    # the handler's module is not project code, but the exception still leaves a Lambda entry point
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*[[]exception[]] dob '1990-04-12'*"])


def test_the_stack_log_and_outbox_of_e2e_runs_are_scanned() -> None:
    outbox = {
        "sms": [{"to": "+12025550123", "body": "Harbor Clinic: reply C to confirm", "at": "t1"}],
        "email": [
            {"to": "jordan.sample@example.com", "subject": "Your intake", "text": "Hi Jordan", "at": "t2"},
            {"to": "oncall@clinic.example", "subject": "Case K7Q2", "text": "Patient Jordan Sample", "at": "t3"},
        ],
    }
    leaks = phi_guard.scan_stack('{"level":"INFO","message":"ok"}\n{"message":"dob 1990-04-12"}\n', outbox)
    assert sorted((leak.channel, leak.kind, leak.where) for leak in leaks) == [
        ("email.text", "name", "outbox email to oncall@clinic.example at t3"),
        ("stack.log", "dob", "stack log line 2"),
    ]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("call 202.555.0123 now", [("phone", "202.555.0123")]),
        ("sample demo example street", []),  # common words, even though "Sample" is a last name
        ("order 12025550100", []),  # the clinic's number is not a patient's
        ("member xex900000001", []),  # member ids are exact (case-sensitive)
        ("41 ORCHARD LANE", [("address", "41 ORCHARD LANE")]),
        ("Ann and Li", []),  # names shorter than 4 characters are not matched
        ("/ack?t=eyJ3Zelda9xQ_k2Lm", []),  # inside a random token: chance
        ("JordanSample_rivera", [("name", "Jordan"), ("name", "rivera")]),  # no digit: not a token
        # a 60-letter SES message id on the stack's console: machine-made, "alex" inside is chance
        ("email sent hswlkrodhjsbzusq-mvskkqum-aevz-sghx-jugj-szalexqckrzt-etconf", []),
        ("jordan-sample-rivera-jordan", [("name", "jordan"), ("name", "rivera"), ("name", "jordan")]),
    ],
)
def test_matching_rules(text: str, found: list[tuple[str, str]]) -> None:
    assert phi_guard.phi_set().find(text) == found
