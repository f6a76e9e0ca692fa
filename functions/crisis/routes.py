"""api_handler routes of the crisis workflow: acknowledgement links and the staff case pages.

    GET  /crisis/ack/{token}                   a page with a Confirm button; acknowledges nothing
    POST /crisis/ack/{token}                   acknowledges (the button's form post)
    GET  /staff/cases/{case_id}                case detail (staff sign-in)
    GET  /staff/cases/{case_id}/timeline.json  the timeline export (staff sign-in)
    POST /staff/cases/{case_id}/resolve        {"note": "..."} closes the case (staff sign-in)

Acknowledgement pages: 200 (confirm / done), 403 (forged, malformed or expired link), 410 (the
link was already used). Mail scanners and link previews open links, so only the POST acts.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from chalice.app import Blueprint, Response

from functions.core.errors import DomainError, RequestRejected, rejected
from functions.core.http import ANY_CONTENT_TYPE, StaffCall, check_body_size, json_response, staff_route
from functions.core.log import get_logger
from functions.crisis import messages

if TYPE_CHECKING:
    from functions.crisis.acknowledge import LinkView

bp = Blueprint(__name__)
logger = get_logger("crisis_routes")

MAX_NOTE = 4000
PAGE_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "Referrer-Policy": "no-referrer",  # the token is in the URL
    "X-Frame-Options": "DENY",
    "X-Robots-Tag": "noindex, nofollow",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}
_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;line-height:1.5}"
    "button{font-size:1.25rem;padding:.75rem 2rem;border-radius:.5rem;border:0;background:#b00020;color:#fff}"
)


def _case_page(case_id: str) -> str:
    from functions.core.links import staff_case_url
    from functions.core.settings import get_settings

    return staff_case_url(get_settings().public_base_url, case_id)


def _page(status: int, title: str, body: str) -> Response:
    html = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    )
    return Response(body=html, status_code=status, headers=dict(PAGE_HEADERS))


def _refusal(view: LinkView) -> Response:
    if view.state == "used":
        return _page(
            410,
            "Link already used",
            "<p>This acknowledgement link has already been used. Each link works once.</p>"
            "<p>If you still need to take the case, reply ACK and the case code to the text message.</p>",
        )
    if view.state == "expired":
        return _page(
            403,
            "Link expired",
            "<p>This acknowledgement link has expired. Reply ACK and the case code to the text "
            "message, or call the clinic.</p>",
        )
    return _page(
        403,
        "Link not valid",
        "<p>This link is not valid. Use the link exactly as it was sent, or reply ACK and the case "
        "code to the text message.</p>",
    )


def _try_again() -> Response:
    return _page(
        503,
        "Please try again",
        "<p>We could not reach the case just now. Try again in a moment, or reply ACK and the case code "
        "to the text message.</p>",
    )


@bp.route("/crisis/ack/{token}", methods=["GET"])
def ack_link_page(token: str) -> Response:
    from functions.crisis import acknowledge

    try:
        view = acknowledge.view_ack_link(token)
    except DomainError as exc:
        logger.warning("ack link page failed", extra={"error": type(exc).__name__})
        return _try_again()
    if view.state != "ready":
        return _refusal(view)
    code = escape(view.code)
    return _page(
        200,
        f"Take case {view.code}?",
        f"<p>Press Confirm to take case <strong>{code}</strong>. Paging stops and the others who "
        "were paged are told that you have it.</p>"
        '<form method="post"><button type="submit">Confirm</button></form>',
    )


@bp.route("/crisis/ack/{token}", methods=["POST"], content_types=ANY_CONTENT_TYPE)
def ack_link_confirm(token: str) -> Response:
    from functions.crisis import acknowledge

    try:
        check_body_size(bp.current_request)  # the form posts nothing; a flood is refused unread
    except RequestRejected:
        return _page(413, "Request too large", "<p>Press Confirm on the page the link opened.</p>")
    try:
        view = acknowledge.acknowledge_by_link(token)
    except DomainError as exc:  # nothing was decided: the link stays usable
        logger.warning("ack by link failed", extra={"error": type(exc).__name__})
        return _try_again()
    if view.outcome is None:
        return _refusal(view)
    outcome = view.outcome
    code = escape(outcome.code)
    if outcome.accepted:
        told = " The others who were paged have been told." if outcome.others_told else ""
        return _page(
            200,
            f"Case {outcome.code} is yours",
            f"<p>Thank you. Case <strong>{code}</strong> is acknowledged by you and paging has "
            f"stopped.{told}</p><p>Who to call back and where they are: "
            f'<a href="{escape(_case_page(outcome.case_id))}">the case page</a> (staff sign-in).</p>',
        )
    if outcome.acked_by_name:
        who = escape(messages.first_name(outcome.acked_by_name))
        return _page(
            200,
            f"Case {outcome.code} already taken",
            f"<p>Case <strong>{code}</strong> was already acknowledged by {who}. No action needed.</p>",
        )
    return _page(
        200,
        f"Case {outcome.code} already closed",
        f"<p>Case <strong>{code}</strong> is already {escape(outcome.status)}. No action needed.</p>",
    )


@staff_route(bp, "/staff/cases/{case_id}", methods=["GET"], cors_preflight=True, route_logger=logger)
def staff_case(call: StaffCall, case_id: str) -> Response:
    """Read by the staff page (web/staff.html) from the website's origin."""
    from functions.crisis import staff

    detail = staff.case_detail(case_id)
    if detail.get("intake_id"):  # the audit record goes under the patient (functions/core/http.py)
        call.audit.ids["intake_id"] = str(detail["intake_id"])
    return json_response(200, detail, call.headers)


@staff_route(bp, "/staff/cases/{case_id}/timeline.json", methods=["GET"], route_logger=logger)
def staff_case_timeline(call: StaffCall, case_id: str) -> Response:
    from functions.crisis import staff

    export = staff.case_timeline(case_id)
    if export.get("intake_id"):  # the audit record goes under the patient (functions/core/http.py)
        call.audit.ids["intake_id"] = str(export["intake_id"])
    return json_response(
        200,
        export,
        call.headers,
        headers={"Content-Disposition": f'attachment; filename="case-{export["case_id"]}-timeline.json"'},
    )


def _resolve_note(body: object) -> str:
    note = body.get("note") if isinstance(body, dict) else None
    if not isinstance(note, str) or not note.strip():
        raise rejected(422, "note", "Give a note saying how the case was resolved.")
    if len(note) > MAX_NOTE:
        raise rejected(422, "note", f"Keep the note to at most {MAX_NOTE} characters.")
    return note.strip()


@staff_route(bp, "/staff/cases/{case_id}/resolve", methods=["POST"], json_body=True, cors_preflight=True,
             route_logger=logger)
def staff_case_resolve(call: StaffCall, case_id: str) -> Response:
    """Closes a case from the staff page on the website's origin (a JSON POST)."""
    from functions.crisis import staff

    identity = call.identity
    result = staff.resolve_case(case_id, _resolve_note(call.body), identity.email or identity.subject)
    if result.get("intake_id"):  # the audit record goes under the patient (functions/core/http.py)
        call.audit.ids["intake_id"] = str(result["intake_id"])
    logger.info("case resolved by staff", extra={"case_id": case_id})
    return json_response(200, result, call.headers)
