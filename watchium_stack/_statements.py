"""A SQL file cut into statements the way the Supabase CLI cuts it.

``supabase db push`` and the local migration runner keep one history table,
``supabase_migrations.schema_migrations``, whose ``statements`` column holds each migration as it
was applied, statement by statement. For each to recognise what the other applied, both cut a file
at the same places and record the same text. The CLI's rules, which this module follows:

* a statement ends at a ``;`` that is not inside single or double quotes (a doubled quote escapes
  it; a backslash does not), a dollar-quoted body (``$$`` or ``$tag$``), a line comment, a
  block comment (nestable), parentheses, or a ``BEGIN ATOMIC ... END`` body; elsewhere a backslash
  makes the next character plain;
* a statement is recorded as written from the end of the previous one to its ``;``, without the
  ``;`` and the surrounding whitespace: the comments before a statement are part of it, and
  comments after the last ``;`` make a statement of their own.

Following the CLI rather than PostgreSQL's own lexer is deliberate: a file the CLI would cut
wrongly (a backslash-escaped quote in an ``E'...'`` string, say) then fails locally as it would on
hosted Supabase. :func:`essence` compares statements however their comments were recorded, for
histories written before the runner followed the CLI.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["Statement", "split_statements", "essence", "skip_comments"]


@dataclass(frozen=True)
class Statement:
    """One statement: its text as recorded, and the line of the file it starts on (1-based)."""

    text: str
    line: int

    @property
    def code_line(self) -> int:
        """The line of the statement's first character that is not a comment."""
        start = skip_comments(self.text, 0)
        return self.line + self.text.count("\n", 0, start)

    @property
    def is_comment(self) -> bool:
        """Whether the statement holds nothing but comments (PostgreSQL has nothing to run)."""
        return skip_comments(self.text, 0) >= len(self.text)


def _is_identifier(ch: str) -> bool:
    return ch.isalpha() or ch.isdecimal() or ch in "_$"


class _Scan:
    """The text being cut, and where the current statement started."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.start = 0

    def ends_with(self, i: int, tail: str, *, fold: bool = False) -> bool:
        """Whether the characters up to ``i`` (inclusive) end with ``tail``."""
        window = self.text[i + 1 - len(tail) : i + 1]
        return window.lower() == tail.lower() if fold else window == tail

    def begins_atomic(self, i: int) -> bool:
        """Whether ``i`` is the last letter of ``BEGIN ATOMIC`` (as whole words)."""
        data = self.text[self.start : i + 1]
        offset = len(data) - len("ATOMIC")
        if offset < 0 or data[offset:].upper() != "ATOMIC":
            return False
        if offset > 0 and _is_identifier(data[offset - 1]):
            return False
        prefix = data[:offset].rstrip()
        offset = len(prefix) - len("BEGIN")
        if offset < 0 or prefix[offset:].upper() != "BEGIN":
            return False
        return offset == 0 or not _is_identifier(prefix[offset - 1])


class _State:
    """A state of the cutter: ``step`` returns the next state, or None where a statement ends."""

    def step(self, scan: _Scan, ch: str, i: int) -> _State | None:
        raise NotImplementedError


class _Ready(_State):
    def step(self, scan: _Scan, ch: str, i: int) -> _State | None:
        if ch == "$":
            return _Tag(i)
        if ch in "'\"":
            return _Quote(ch)
        if ch == "-":
            return _DASH
        if ch == "/":
            return _Block()
        if ch == "\\":
            return _ESCAPE
        if ch == ";":
            return None
        if ch == "(":
            return _Nested(self, ")")
        if ch in "cC" and scan.begins_atomic(i):
            return _Nested(self, "END")
        return self


_READY = _Ready()


class _Dash(_State):
    """A ``-``: a second one opens a line comment."""

    def step(self, scan: _Scan, ch: str, i: int) -> _State | None:
        if ch == "-":
            return _Until("\n")
        return _READY.step(scan, ch, i)


_DASH = _Dash()


class _Escape(_State):
    def step(self, scan: _Scan, ch: str, i: int) -> _State | None:
        return _READY


_ESCAPE = _Escape()


class _Block(_State):
    """A ``/``: a ``*`` opens a block comment; block comments nest."""

    def __init__(self) -> None:
        self.depth = 0

    def step(self, scan: _Scan, ch: str, i: int) -> _State | None:
        if scan.ends_with(i, "/*"):
            self.depth += 1
            return self
        if self.depth == 0:
            return _READY.step(scan, ch, i)
        if scan.ends_with(i, "*/"):
            self.depth -= 1
            if self.depth == 0:
                return _READY
        return self


class _Quote(_State):
    """Inside '...' or "...": a doubled quote stays inside."""

    def __init__(self, quote: str) -> None:
        self.quote = quote
        self.closing = False

    def step(self, scan: _Scan, ch: str, i: int) -> _State | None:
        if self.closing:
            if ch == self.quote:
                self.closing = False
                return self
            return _READY.step(scan, ch, i)
        if ch == self.quote:
            self.closing = True
        return self


class _Until(_State):
    """Inside a dollar-quoted body or a line comment: everything up to ``delimiter``."""

    def __init__(self, delimiter: str) -> None:
        self.delimiter = delimiter

    def step(self, scan: _Scan, ch: str, i: int) -> _State | None:
        return _READY if scan.ends_with(i, self.delimiter) else self


class _Tag(_State):
    """A ``$``: a tag of letters, digits and ``_`` closed by ``$`` opens a dollar quote."""

    def __init__(self, offset: int) -> None:
        self.offset = offset

    def step(self, scan: _Scan, ch: str, i: int) -> _State | None:
        if ch == "$":
            return _Until(scan.text[self.offset : i + 1])
        if ch.isalpha() or ch.isdecimal() or ch == "_":
            return self
        return _READY.step(scan, ch, i)


class _Nested(_State):
    """Inside parentheses or a ``BEGIN ATOMIC`` body: no statement ends before ``closing``."""

    def __init__(self, inner: _State, closing: str) -> None:
        self.inner = inner
        self.closing = closing

    def step(self, scan: _Scan, ch: str, i: int) -> _State | None:
        state = self.inner.step(scan, ch, i)
        if state is not None:
            self.inner = state
        if isinstance(self.inner, _Ready) and scan.ends_with(i, self.closing, fold=True):
            return _READY
        return self


def _cut(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each piece of ``text``, each ending at its ``;`` (or at the end)."""
    scan = _Scan(text)
    state: _State = _READY
    for i, ch in enumerate(text):
        following = state.step(scan, ch, i)
        if following is None:
            yield scan.start, i + 1
            scan.start = i + 1
            state = _READY
        else:
            state = following
    if scan.start < len(text):
        yield scan.start, len(text)


def split_statements(text: str) -> list[Statement]:
    """The statements of ``text``, recorded as the Supabase CLI records them."""
    out: list[Statement] = []
    for start, end in _cut(text):
        piece = text[start:end].rstrip(";")
        body = piece.strip()
        if not body:
            continue
        first = start + len(piece) - len(piece.lstrip())
        out.append(Statement(text=body, line=text.count("\n", 0, first) + 1))
    return out


def skip_comments(text: str, i: int) -> int:
    """The offset of the first character after the whitespace and comments at ``i``."""
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if text.startswith("--", i):
            j = text.find("\n", i)
            i = len(text) if j < 0 else j + 1
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < len(text) and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
        else:
            return i


_TRAILING = re.compile(r"[\s;]+\Z")


def essence(statements: list[str]) -> list[str]:
    """The statements without leading comments, trailing semicolons and comment-only entries.

    The runner once recorded statements without their leading comments and with their ``;``;
    the CLI records them the other way. Both reduce to the same essence.
    """
    out: list[str] = []
    for text in statements:
        body = _TRAILING.sub("", text[skip_comments(text, 0) :])
        if body:
            out.append(body)
    return out
