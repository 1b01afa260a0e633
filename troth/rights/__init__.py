"""Rights requests (P10–P15, P19, P23): intake, verification, legal clocks, plan, execution and
the export bundle, over troth's own store.

:func:`create_request` takes a request in and acknowledges it; :func:`mark_verified`,
:func:`start_review`, :func:`approve` and :func:`deny` move it through the state machine in
:mod:`troth.rights.states`; :mod:`troth.rights.clocks` computes every deadline and
:func:`extend` moves one lawfully; :func:`due_reminders` warns the privacy team;
:func:`queue` lists open requests overdue first; :func:`plan_request` says what a request will
read, erase and keep; :func:`execute_request` carries it out as a job of idempotent steps.
No web imports. See docs/rights.md.
"""

from .bundle import BundleGone, Download, bundle_for_download, collect_data
from .clocks import Deadlines, UnknownJurisdiction, add_business_days, deadlines
from .closure import close_account
from .execute import STEP_FUNCTIONS, execute_request, rights_handlers, steps_done
from .extension import ExtensionRefused, extend
from .links import STATUS_PURPOSE, linked_request, status_link, status_path, status_token
from .models import DeadlineReminder, RecipientTask, RequestTimelineEntry, RightsRequest
from .plan import KeptItem, Plan, plan_request, proposed_values
from .recipients import UnknownTask, complete_recipient_task, recipient_tasks
from .reminders import TEAM_EMAIL_ENV, NoTeamAddress, due_reminders, team_address
from .requests import (
    EXECUTE_JOB,
    RequestInputError,
    UnknownRequest,
    approve,
    create_request,
    deny,
    get_request,
    mark_verified,
    start_review,
    timeline,
)
from .states import (
    TRANSITIONS,
    ActingAs,
    IllegalTransition,
    RequestKind,
    RequestState,
    check_transition,
)
from .steps import STEPS
from .worker import PassReport, worker_pass
from .worklist import QueueEntry, QueueFilters, next_due, queue

__all__ = [
    "EXECUTE_JOB",
    "STATUS_PURPOSE",
    "STEPS",
    "STEP_FUNCTIONS",
    "TEAM_EMAIL_ENV",
    "TRANSITIONS",
    "ActingAs",
    "BundleGone",
    "DeadlineReminder",
    "Deadlines",
    "Download",
    "ExtensionRefused",
    "IllegalTransition",
    "KeptItem",
    "NoTeamAddress",
    "PassReport",
    "Plan",
    "QueueEntry",
    "QueueFilters",
    "RecipientTask",
    "RequestInputError",
    "RequestKind",
    "RequestState",
    "RequestTimelineEntry",
    "RightsRequest",
    "UnknownJurisdiction",
    "UnknownRequest",
    "UnknownTask",
    "add_business_days",
    "approve",
    "bundle_for_download",
    "check_transition",
    "close_account",
    "collect_data",
    "complete_recipient_task",
    "create_request",
    "deadlines",
    "deny",
    "due_reminders",
    "execute_request",
    "extend",
    "get_request",
    "linked_request",
    "mark_verified",
    "next_due",
    "plan_request",
    "proposed_values",
    "queue",
    "recipient_tasks",
    "rights_handlers",
    "start_review",
    "status_link",
    "status_path",
    "status_token",
    "steps_done",
    "team_address",
    "timeline",
    "worker_pass",
]
