"""Conditions on an HTTP answer, in a small language in the spirit of Gatus.

    [STATUS] == 200
    [RESPONSE_TIME] < 300
    [BODY].status == UP
    [BODY].checks[0].state != DOWN
    [CERTIFICATE_EXPIRATION] > 48h

One condition per line: a placeholder, a comparison, a value. The text is parsed
with a regular expression into a `Condition` and evaluated by comparing values;
it is never handed to `eval`, so a condition cannot run code. Lines and the whole
text are bounded in length, and the expression matches in linear time, so no text
an admin pastes can hold a web worker.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

PLACEHOLDERS = ("STATUS", "RESPONSE_TIME", "BODY", "CERTIFICATE_EXPIRATION")
# Far above any real condition (`[BODY].checks[0].components.db.status == UP` is 44).
MAX_CONDITION_LENGTH = 500
MAX_CONDITIONS_LENGTH = 5_000

_OPERATORS: dict[str, Callable[[object, object], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}
# Matched against a stripped line, so the value needs no trailing `\s*`: a lazy value
# before `\s*$` retried every split of a run of spaces, quadratic in its length.
_CONDITION = re.compile(
    r"""\[(?P<placeholder>[A-Z_]+)\]
        (?P<path>(?:\.[A-Za-z_][\w-]*|\[\d+\])*)
        \s*(?P<op>==|!=|<=|>=|<|>)\s*
        (?P<value>.*)""",
    re.VERBOSE,
)
_PATH_STEP = re.compile(r"\.([A-Za-z_][\w-]*)|\[(\d+)\]")
# A duration as Gatus writes one (Go's syntax, plus days): 48h, 1h30m, 7d, 500ms.
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|d|h|m|s))+")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|d|h|m|s)")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


class ConditionError(ValueError):
    """A condition that cannot be parsed; the message says what is wrong with it."""


@dataclass(frozen=True)
class Answer:
    """What a probe saw, for conditions to test: status code, latency, body, and the time
    left until the TLS certificate expires (None over plain HTTP)."""

    status: int
    response_time_ms: float
    body: bytes = b""
    certificate_expiration_ms: float | None = None


@dataclass(frozen=True)
class Condition:
    """One parsed condition, e.g. `[BODY].status == UP`."""

    text: str
    placeholder: str
    path: tuple[str | int, ...]
    op: str
    value: str

    def evaluate(self, answer: Answer) -> bool:
        """True when the answer satisfies the condition; a missing body field never does."""
        try:
            actual = self._actual(answer)
        except LookupError:
            return False
        expected: object = self.value
        number = _number(self.value)
        actual_number = _number(actual)
        if number is not None and actual_number is not None:
            actual, expected = actual_number, number
        elif self.op not in ("==", "!="):
            # Ordering only makes sense between numbers.
            return False
        else:
            actual = _text(actual)
        return _OPERATORS[self.op](actual, expected)

    def _actual(self, answer: Answer) -> object:
        if self.placeholder == "STATUS":
            return answer.status
        if self.placeholder == "RESPONSE_TIME":
            return answer.response_time_ms
        if self.placeholder == "CERTIFICATE_EXPIRATION":
            if answer.certificate_expiration_ms is None:
                raise LookupError("no TLS certificate")
            return answer.certificate_expiration_ms
        if not self.path:
            return answer.body.decode("utf-8", "replace").strip()
        try:
            node: object = json.loads(answer.body)
        except ValueError as error:
            raise LookupError("the body is not JSON") from error
        for step in self.path:
            if isinstance(step, int):
                if not isinstance(node, list) or step >= len(node):
                    raise LookupError(step)
                node = node[step]
            else:
                if not isinstance(node, dict) or step not in node:
                    raise LookupError(step)
                node = node[step]
        return node


def parse_condition(text: str) -> Condition:
    """Parse one condition, or raise ConditionError saying what is wrong."""
    text = text.strip()
    if len(text) > MAX_CONDITION_LENGTH:
        raise ConditionError(
            f"a condition is at most {MAX_CONDITION_LENGTH} characters, not {len(text)}."
        )
    match = _CONDITION.fullmatch(text)
    if match is None:
        raise ConditionError(
            f"{text!r} is not a condition such as [STATUS] == 200 or [BODY].status == UP."
        )
    placeholder, path_text = match["placeholder"], match["path"]
    if placeholder not in PLACEHOLDERS:
        raise ConditionError(
            f"[{placeholder}] is not a known placeholder; use "
            + ", ".join(f"[{name}]" for name in PLACEHOLDERS)
            + "."
        )
    if path_text and placeholder != "BODY":
        raise ConditionError(f"only [BODY] can be followed by a path, not [{placeholder}].")
    value = match["value"]
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    elif value == "":
        raise ConditionError(f"{text!r} has nothing to compare with.")
    if placeholder == "CERTIFICATE_EXPIRATION":
        if _DURATION.fullmatch(value):
            value = f"{_duration_ms(value):g}"
        elif _number(value) is None:
            raise ConditionError(
                f"[CERTIFICATE_EXPIRATION] is compared with a duration such as 48h or 7d "
                f"(or milliseconds), not {value!r}."
            )
    if placeholder in ("STATUS", "RESPONSE_TIME") and _number(value) is None:
        raise ConditionError(f"[{placeholder}] is compared with a number, not {value!r}.")
    path = tuple(
        int(index) if index else name for name, index in _PATH_STEP.findall(path_text or "")
    )
    return Condition(text, placeholder, path, match["op"], value)


def parse_conditions(text: str) -> list[Condition]:
    """Parse one condition per non-blank line; the error names the line."""
    if len(text) > MAX_CONDITIONS_LENGTH:
        raise ConditionError(
            f"conditions are at most {MAX_CONDITIONS_LENGTH} characters in all, not {len(text)}."
        )
    conditions = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            conditions.append(parse_condition(line))
        except ConditionError as error:
            raise ConditionError(f"line {number}: {error}") from None
    return conditions


def _duration_ms(text: str) -> float:
    return sum(float(amount) * _UNIT_MS[unit] for amount, unit in _DURATION_PART.findall(text))


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
