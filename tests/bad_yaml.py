"""YAML that must be refused quickly and in bounded memory, for the tests of every reader."""

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
