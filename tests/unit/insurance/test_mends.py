"""Small mends: names with letters Unicode does not decompose, and the code list 1365 labels."""

from __future__ import annotations

import pytest

from functions.insurance.service_types import (
    DEFAULT_SEQUENCE,
    FIGURE_PREFERENCE,
    SERVICE_TYPE_NAMES,
    describe,
)
from functions.insurance.simulator import sample_request
from functions.insurance.x12_270 import build_270, parse_270, x12_text


@pytest.mark.parametrize(
    ("name", "sent"),
    [
        ("Łukasz", "LUKASZ"),
        ("Żółkiewski-Ødegård", "ZOLKIEWSKI-ODEGARD"),
        ("Ærøskøbing", "AEROSKOBING"),
        ("Straße", "STRASSE"),
        ("Þórunn", "THORUNN"),
        ("Guðrún", "GUDRUN"),
        ("Đorđević", "DORDEVIC"),
        ("Œuvray", "OEUVRAY"),
        ("Ħal", "HAL"),
        ("Y\u0131ld\u0131z", "YILDIZ"),
        ("O\u2019Brien", "O'BRIEN"),  # a typographic apostrophe, as phones type it
        ("Smith\u2013Jones", "SMITH-JONES"),
        ("José", "JOSE"),
        ("李", ""),  # no Latin reading: dropped, never a separator or a non-ASCII byte
    ],
)
def test_x12_text_transliterates_letters_without_a_decomposition(name, sent):
    assert x12_text(name) == sent
    assert x12_text(name).isascii()


def test_polish_norwegian_name_goes_out_whole_in_the_270(now):
    text = build_270(sample_request("XEX900000001", first_name="Łukasz", last_name="Żółkiewski-Ødegård"), now=now)
    nm1 = next(s for s in text.split("~") if s.startswith("NM1*IL"))
    assert nm1.startswith("NM1*IL*1*ZOLKIEWSKI-ODEGARD*LUKASZ*")
    parsed = parse_270(text)
    assert (parsed.last_name, parsed.first_name) == ("ZOLKIEWSKI-ODEGARD", "LUKASZ")


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("CE", "Mental Health Provider - Inpatient"),
        ("CF", "Mental Health Provider - Outpatient"),
        ("CG", "Mental Health Facility - Inpatient"),
        ("CH", "Mental Health Facility - Outpatient"),
        ("CI", "Substance Abuse Facility - Inpatient"),
        ("CJ", "Substance Abuse Facility - Outpatient"),
        ("ch", "Mental Health Facility - Outpatient"),
    ],
)
def test_service_type_names_follow_code_list_1365(code, name):
    assert describe(code) == name


def test_substance_use_facility_codes_are_read_but_not_asked_by_default():
    assert "CH" in DEFAULT_SEQUENCE  # a mental-health facility's outpatient benefit: an IOP's
    assert "CJ" not in DEFAULT_SEQUENCE and "CI" not in DEFAULT_SEQUENCE
    assert "CJ" in FIGURE_PREFERENCE and "CI" not in FIGURE_PREFERENCE  # inpatient never supplies figures
    assert all("Substance" not in SERVICE_TYPE_NAMES[c] for c in ("CG", "CH"))
