"""The payer's reject reasons (AAA03, code list 901) and follow-up actions (AAA04, code list 889):
the implementation guide's description of each, and what intake staff should do, in plain words."""

from __future__ import annotations

from collections.abc import Mapping

from functions.insurance.summary import CALL_PAYER as _CALL_PAYER

_CHECK_MEMBER = (
    "Please check the member id, name and date of birth against the patient's insurance card, then run the check again."
)
_CHECK_CLINIC = "Check the clinic's NPI and its enrollment with this payer, then run the check again."
_CHECK_DATE = "Check the date of service sent with the inquiry, then run the check again."


# AAA03 (code list 901): the guide's description and plain-language follow-up for staff.
AAA_REASONS: Mapping[str, tuple[str, str]] = {
    "04": (
        "Authorized Quantity Exceeded",
        "Too many inquiries were sent to this payer; try again later, or ask the clearinghouse to raise the limit.",
    ),
    "15": (
        "Required Application Data Missing",
        "The payer says the inquiry is missing required information; complete the patient's insurance "
        "details and run the check again.",
    ),
    "33": ("Input Errors", "Review the patient's insurance details for mistakes and run the check again."),
    "35": (
        "Out of Network",
        "The clinic is out of this patient's network: review out-of-network benefits with the payer, "
        "or ask about a single-case agreement.",
    ),
    "41": (
        "Authorization/Access Restrictions",
        "The payer refused this provider or submitter access; check the clinic's enrollment for "
        "eligibility inquiries with this payer or the clearinghouse.",
    ),
    "42": (
        "Unable to Respond at Current Time",
        "The payer's system could not answer right now; try again later.",
    ),
    "43": ("Invalid/Missing Provider Identification", _CHECK_CLINIC),
    "44": ("Invalid/Missing Provider Name", "Check the clinic's name as enrolled with this payer."),
    "45": ("Invalid/Missing Provider Specialty", "Check the clinic's specialty (taxonomy) on file with this payer."),
    "46": ("Invalid/Missing Provider Phone Number", "Check the clinic's phone number on file with this payer."),
    "47": ("Invalid/Missing Provider State", "Check the clinic's state on file with this payer."),
    "48": (
        "Invalid/Missing Referring Provider Identification Number",
        "The payer needs the referring provider; add the referral details or call the payer.",
    ),
    "49": (
        "Provider is Not Primary Care Physician",
        "The plan needs the patient's primary care physician involved; obtain a referral.",
    ),
    "50": ("Provider Ineligible for Inquiries", "This provider may not send inquiries to the payer; " + _CALL_PAYER),
    "51": (
        "Provider Not on File",
        "The payer has no record of the clinic's NPI; check the clinic's enrollment with this payer, "
        "or call the payer.",
    ),
    "52": (
        "Service Dates Not Within Provider Plan Enrollment",
        "The date of service falls outside the clinic's enrollment with this plan; check the enrollment "
        "dates with the payer.",
    ),
    "53": ("Inquired Benefit Inconsistent with Provider Type", _CALL_PAYER),
    "54": ("Inappropriate Product/Service ID Qualifier", _CALL_PAYER),
    "55": ("Inappropriate Product/Service ID", _CALL_PAYER),
    "56": ("Inappropriate Date", _CHECK_DATE),
    "57": ("Invalid/Missing Date(s) of Service", _CHECK_DATE),
    "58": (
        "Invalid/Missing Date-of-Birth",
        "Check the patient's date of birth against the insurance card, then run the check again.",
    ),
    "60": (
        "Date of Birth Follows Date(s) of Service",
        "Check the patient's date of birth and the date of service, then run the check again.",
    ),
    "61": (
        "Date of Death Precedes Date(s) of Service",
        "The payer's records show a date of death before the date of service; call the payer to correct them.",
    ),
    "62": (
        "Date of Service Not Within Allowable Inquiry Period",
        "The payer answers only for dates inside its inquiry window; use today's date or a nearer date of service.",
    ),
    "63": ("Date of Service in Future", "Use today's date as the date of service, then run the check again."),
    "64": ("Invalid/Missing Patient ID", _CHECK_MEMBER),
    "65": (
        "Invalid/Missing Patient Name",
        "Check the patient's name exactly as printed on the insurance card, then run the check again.",
    ),
    "66": (
        "Invalid/Missing Patient Gender Code",
        "Check the patient's sex as the payer records it, then run the check again.",
    ),
    "67": ("Patient Not Found", _CHECK_MEMBER),
    "68": (
        "Duplicate Patient ID Number",
        "The payer matched more than one patient; add the exact name and date of birth from the card, "
        "or call the payer.",
    ),
    "69": ("Inconsistent with Patient's Age", _CALL_PAYER),
    "70": ("Inconsistent with Patient's Gender", _CALL_PAYER),
    "71": (
        "Patient Birth Date Does Not Match That for the Patient on the Database",
        "Check the patient's date of birth against the insurance card, then run the check again.",
    ),
    "72": (
        "Invalid/Missing Subscriber/Insured ID",
        "Please check the member id on the patient's insurance card (including any prefix), then run the check again.",
    ),
    "73": (
        "Invalid/Missing Subscriber/Insured Name",
        "Check the subscriber's name exactly as printed on the insurance card, then run the check again.",
    ),
    "74": ("Invalid/Missing Subscriber/Insured Gender Code", "Check the subscriber's sex as the payer records it."),
    "75": (
        "Subscriber/Insured Not Found",
        "The payer found no member with these details. "
        + _CHECK_MEMBER
        + " Ask the patient whether the coverage is new or has changed.",
    ),
    "76": (
        "Duplicate Subscriber/Insured ID Number",
        "The payer matched more than one member; add the exact name and date of birth from the card, "
        "or call the payer.",
    ),
    "77": (
        "Subscriber Found, Patient Not Found",
        "The subscriber was found but not the patient; check the patient's own name and date of birth "
        "and the relationship to the subscriber.",
    ),
    "78": (
        "Subscriber/Insured Not in Group/Plan Identified",
        "Check the group number on the insurance card, then run the check again.",
    ),
    "79": (
        "Invalid Participant Identification",
        "The payer id was not recognised; check which payer the patient's card names and its electronic payer id.",
    ),
    "80": ("No Response received - Transaction Terminated", "The payer did not answer in time; try again later."),
    "97": ("Invalid or Missing Provider Address", "Check the clinic's address on file with this payer."),
    "98": ("Experimental Service or Procedure", _CALL_PAYER),
    "AA": ("Authorization Number Not Found", "Check the authorization number with the payer."),
    "AE": (
        "Requires Primary Care Physician Authorization",
        "Obtain a referral or authorization from the patient's primary care physician before starting.",
    ),
    "AF": ("Invalid/Missing Diagnosis Code(s)", _CALL_PAYER),
    "AG": ("Invalid/Missing Procedure Code(s)", _CALL_PAYER),
    "AO": (
        "Additional Patient Condition Information Required",
        "The payer needs clinical information; call the payer.",
    ),
    "CI": ("Certification Information Does Not Match Patient", "Check the authorization details with the payer."),
    "E8": (
        "Requires Medical Review",
        "The payer will review medical necessity; request authorization before starting.",
    ),
    "IA": ("Invalid Authorization Number Format", "Check the authorization number with the payer."),
    "MA": ("Missing Authorization", "Request prior authorization from the payer before starting."),
    "T4": (
        "Payer Name or Identifier Missing",
        "Check which payer the patient's card names and its electronic payer id.",
    ),
}

# AAA04 (code list 889): what the payer asks the submitter to do.
FOLLOW_UP_ACTIONS: Mapping[str, str] = {
    "C": "Please correct and resubmit.",
    "N": "Resubmission not allowed.",
    "P": "Please resubmit the original transaction.",
    "R": "Resubmission allowed.",
    "S": "Do not resubmit; the payer has asked a third party.",
    "W": "Please wait 30 days and resubmit.",
    "X": "Please wait 10 days and resubmit.",
    "Y": "Do not resubmit; the payer will send the response later.",
}
