"""The dashboard: requests per week by kind and by state, the on-time completion rate, the
median time to complete, and consent opt-in rates per purpose, as charts with their numbers.

The figures come from :mod:`troth.rights.stats` and :mod:`troth.consent.stats`; this module
only draws them.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from troth.consent.stats import opt_in_rates
from troth.rights import RequestKind, RequestState
from troth.rights.stats import completion, requests_per_week
from troth.staff import SignedIn

from ..site import site
from .auth import PREFIX, now, require_staff
from .charts import percent, rate_bars, stacked_bars
from .pages import DASHBOARD_ROLES, render_console

router = APIRouter(prefix=PREFIX)

WEEKS = 12


def duration_words(value: timedelta | None) -> str:
    if value is None:
        return "no data"
    hours = int(value.total_seconds() // 3600)
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if days else f"{hours} h"


@router.get("/dashboard", name="console_dashboard")
def dashboard_page(
    request: Request, who: SignedIn = Depends(require_staff(*DASHBOARD_ROLES))
) -> Response:
    at = now(request)
    with site(request).sessions() as db:
        weeks = requests_per_week(db, at, WEEKS)
        done = completion(db, at, WEEKS)
        rates = opt_in_rates(db, at)
    labels = [week.week.strftime("%d %b") for week in weeks]
    kinds = [k.value for k in RequestKind if any(w.by_kind.get(k.value) for w in weeks)]
    states = [s.value for s in RequestState if any(w.by_state.get(s.value) for w in weeks)]
    by_kind = [[week.by_kind.get(k, 0) for k in kinds] for week in weeks]
    by_state = [[week.by_state.get(s, 0) for s in states] for week in weeks]
    context = {
        "page": "dashboard",
        "weeks": weeks,
        "labels": labels,
        "kinds": kinds,
        "states": states,
        "by_kind": by_kind,
        "by_state": by_state,
        "kind_chart": stacked_bars(
            f"Requests received per week by kind, last {WEEKS} weeks", labels, kinds, by_kind
        ),
        "state_chart": stacked_bars(
            f"Requests received per week by their state now, last {WEEKS} weeks",
            labels,
            states,
            by_state,
        ),
        "done": done,
        "on_time": percent(done.on_time_rate),
        "completion_chart": rate_bars(
            "Requests completed on time", [("On time", done.on_time_rate)]
        ),
        "median": duration_words(done.median_time),
        "rates": rates,
        "rate_chart": rate_bars(
            "Consent opt-in rate per purpose", [(r.purpose, r.rate) for r in rates]
        ),
        "percent": percent,
        "total": sum(week.total for week in weeks),
    }
    return render_console(request, "console/dashboard.html", context)
