"""Old import path of the crisis workflow's entry points, kept for callers not yet moved: the
code lives in ``consumer``, ``acknowledge``, ``sms``, ``staff`` and ``roster``."""

from functions.crisis.acknowledge import LinkView as LinkView  # re-export: moved
from functions.crisis.acknowledge import acknowledge_by_link as acknowledge_by_link  # re-export: moved
from functions.crisis.acknowledge import view_ack_link as view_ack_link  # re-export: moved
from functions.crisis.consumer import handle_event as handle_event  # re-export: moved
from functions.crisis.roster import import_roster as import_roster  # re-export: moved
from functions.crisis.sms import acknowledge_by_sms as acknowledge_by_sms  # re-export: moved
from functions.crisis.sms import open_case_from_sms as open_case_from_sms  # re-export: moved
from functions.crisis.staff import case_detail as case_detail  # re-export: moved
from functions.crisis.staff import case_timeline as case_timeline  # re-export: moved
from functions.crisis.staff import resolve_case as resolve_case  # re-export: moved
