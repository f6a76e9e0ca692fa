"""What the inbound-SMS router asks of the crisis workflow: open a case from a text, acknowledge
a case by ``ACK <code>``. (Being moved here from ``functions.crisis.service``.)"""

from functions.crisis.service import acknowledge_by_sms, open_case_from_sms

__all__ = ["acknowledge_by_sms", "open_case_from_sms"]
