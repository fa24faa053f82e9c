"""YAML that must be refused quickly and in bounded memory, for the tests of every reader."""

from tests.subprocesses import run_manage

# A flow sequence of under 600 bytes whose last item, once its aliases are followed, holds
# 9**9 (387 million) strings.
BILLION_LAUGHS = "[{}]".format(
    ", ".join(
        ["&a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        + [f"&a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    )
)
# 5,000 levels of nesting, as a block sequence and as a flow sequence on one line.
DEEP_BLOCK = "- " * 5000 + "x"
DEEP_FLOW = "[" * 5000 + "]" * 5000


def refused_in_bounded_memory(*command: str) -> str:
    """What `manage.py COMMAND` says as it refuses, run in a child capped at 512 MB (which
    expanding BILLION_LAUGHS would pass)."""
    result = run_manage(*command, memory_limit_mb=512, timeout=60)
    assert result.returncode == 1, result.stderr
    return result.stderr
