"""ISO-8601 durations as the declaration writes them (``P7Y``, ``P30D``, ``PT72H``).

Retention periods and legal deadlines are counted in calendar units (years, months) that a
``timedelta`` cannot hold, so a duration keeps its parts and is added to a date field by field.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, overload

from pydantic_core import core_schema

_PATTERN = re.compile(
    r"^P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)
_UNITS = ("years", "months", "weeks", "days", "hours", "minutes", "seconds")
# Approximate lengths, used only to order durations (is this retention longer than that one?).
_APPROX_DAYS = {
    "years": 365.25,
    "months": 30.4375,
    "weeks": 7,
    "days": 1,
    "hours": 1 / 24,
    "minutes": 1 / 1440,
    "seconds": 1 / 86400,
}


@dataclass(frozen=True, order=False)
class Duration:
    years: int = 0
    months: int = 0
    weeks: int = 0
    days: int = 0
    hours: int = 0
    minutes: int = 0
    seconds: int = 0

    @classmethod
    def parse(cls, text: str) -> Duration:
        match = _PATTERN.match(text.strip()) if isinstance(text, str) else None
        if not match:
            raise ValueError(
                f"{text!r} is not an ISO-8601 duration; write e.g. P7Y (7 years), P30D "
                "(30 days), P1M (one month) or PT72H (72 hours)"
            )
        return cls(**{k: int(v) for k, v in match.groupdict().items() if v})

    def iso(self) -> str:
        date_part = "".join(
            f"{getattr(self, u)}{u[0].upper()}"
            for u in ("years", "months", "weeks", "days")
            if getattr(self, u)
        )
        time_part = "".join(
            f"{getattr(self, u)}{u[0].upper()}"
            for u in ("hours", "minutes", "seconds")
            if getattr(self, u)
        )
        text = "P" + date_part + (("T" + time_part) if time_part else "")
        return text if text != "P" else "PT0S"

    def approx_days(self) -> float:
        return sum(getattr(self, u) * _APPROX_DAYS[u] for u in _UNITS)

    def words(self) -> str:
        """Plain English: ``P7Y`` -> "7 years", ``PT72H`` -> "72 hours"."""
        parts = []
        for unit in _UNITS:
            n = getattr(self, unit)
            if n:
                parts.append(f"{n} {unit[:-1] if n == 1 else unit}")
        if not parts:
            return "no time"
        return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]

    @overload
    def add_to(self, moment: datetime) -> datetime: ...
    @overload
    def add_to(self, moment: date) -> date: ...
    def add_to(self, moment: datetime | date) -> datetime | date:
        """Calendar addition: a month after 31 January is the last day of February."""
        month_index = moment.month - 1 + self.months + 12 * self.years
        year = moment.year + month_index // 12
        month = month_index % 12 + 1
        day = min(moment.day, calendar.monthrange(year, month)[1])
        shifted = moment.replace(year=year, month=month, day=day)
        delta = timedelta(
            weeks=self.weeks,
            days=self.days,
            hours=self.hours,
            minutes=self.minutes,
            seconds=self.seconds,
        )
        if isinstance(shifted, datetime):
            return shifted + delta
        return shifted + timedelta(days=delta.days)

    def subtract_from(self, moment: datetime) -> datetime:
        """Calendar subtraction: the moment this long before ``moment`` (a month before 31 March
        is the last day of February). A row stamped after it is still within the period."""
        month_index = moment.month - 1 - self.months - 12 * self.years
        year = moment.year + month_index // 12
        month = month_index % 12 + 1
        day = min(moment.day, calendar.monthrange(year, month)[1])
        delta = timedelta(
            weeks=self.weeks,
            days=self.days,
            hours=self.hours,
            minutes=self.minutes,
            seconds=self.seconds,
        )
        return moment.replace(year=year, month=month, day=day) - delta

    def __lt__(self, other: Duration) -> bool:
        return self.approx_days() < other.approx_days()

    def __le__(self, other: Duration) -> bool:
        return self.approx_days() <= other.approx_days()

    def __gt__(self, other: Duration) -> bool:
        return self.approx_days() > other.approx_days()

    def __ge__(self, other: Duration) -> bool:
        return self.approx_days() >= other.approx_days()

    def __str__(self) -> str:
        return self.iso()

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> core_schema.CoreSchema:
        def validate(value: Any) -> Duration:
            if isinstance(value, Duration):
                return value
            if not isinstance(value, str):
                raise ValueError("expected an ISO-8601 duration string such as P7Y or P30D")
            return cls.parse(value)

        return core_schema.no_info_plain_validator_function(
            validate,
            serialization=core_schema.plain_serializer_function_ser_schema(lambda d: d.iso()),
            json_schema_input_schema=core_schema.str_schema(),
        )


def month_ends(now: datetime, count: int = 12) -> tuple[datetime, ...]:
    """The first instant (UTC) of each of the ``count`` months after ``now``'s month: the ends
    of this month and the next ones, for plans counted month by month."""
    moment = (now if now.tzinfo is not None else now.replace(tzinfo=UTC)).astimezone(UTC)
    year, month = moment.year, moment.month
    ends = []
    for _ in range(count):
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        ends.append(datetime(year, month, 1, tzinfo=UTC))
    return tuple(ends)
