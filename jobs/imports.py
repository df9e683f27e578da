"""Reading a member import file (DESIGN.md §11): CSV, UTF-8, the header on line 1, columns
`email,full_name,role,department,supervisor_email,title`. Pure functions, no database: what can
be said of a row from the file alone, with its line number. jobs.services.imports checks the
rest against the org and loads the rows.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from typing import Any

from core.inputs import (
    EMAIL_PATTERN,  # the one email rule, shared with POST /members/bulk
    NUL_CHARACTER,
)
from orgs.models import Membership
from users.models import normalize_email

COLUMNS = ("email", "full_name", "role", "department", "supervisor_email", "title")
MAX_LENGTHS = {
    "email": 254,
    "full_name": 200,
    "role": 16,
    "department": 200,
    "supervisor_email": 254,
    "title": 200,
}
ROLES = frozenset(Membership.Role.values)
MAX_ERROR_ROWS = 100  # the job's error lists the first ones

NOT_UTF8 = "The file is not UTF-8 text (line {line})."
HEADER = ",".join(COLUMNS)
# What the OpenAPI document says of the body: line 1 is the header (after an optional BOM).
HEADER_PATTERN = "^\ufeff?" + HEADER + "\r?(\n|$)"
NO_HEADER = "The file is empty: line 1 must be the header " + HEADER + "."
BAD_HEADER = "Line 1 must be the header " + HEADER + "."
NO_ROWS = "The file has a header but no rows."
TOO_MANY_ROWS = "The file has more than {limit:,} rows; split it."
ROWS_INVALID = "{count} of the rows are not valid; nothing was imported."
NOT_A_CSV_ROW = "The line is not valid CSV: {error}"
CELL_COUNT = "Expected {expected} cells, found {found}."
REQUIRED = "This cell must not be empty."
TOO_LONG = "At most {limit} characters."
BAD_EMAIL = "Not a valid email address."
BAD_ROLE = "The role must be admin, manager or employee."
EMAIL_TWICE = "This email is also on line {line}: each member once per file."

_EMAIL = re.compile(EMAIL_PATTERN)


@dataclass(slots=True)
class ImportRow:
    line: int
    email: str
    full_name: str
    role: str
    department: str
    supervisor_email: str
    title: str


class ImportRefused(Exception):
    """The file, or some of its rows, cannot be imported: the job's `error`."""

    def __init__(self, message: str, rows: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.rows = sorted(rows or [], key=lambda row: (row["line"], row["field"] or ""))

    def as_error(self) -> dict[str, Any]:
        return {"message": self.message, "rows": self.rows[:MAX_ERROR_ROWS]}


def row_error(line: int, field: str | None, msg: str) -> dict[str, Any]:
    return {"line": line, "field": field, "msg": msg}


def refuse_rows(errors: list[dict[str, Any]]) -> None:
    if errors:
        lines = {error["line"] for error in errors}
        raise ImportRefused(ROWS_INVALID.format(count=f"{len(lines):,}"), errors)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")  # a byte order mark (spreadsheet exports) is dropped
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ImportRefused(
            NOT_UTF8.format(line=line), [row_error(line, None, "Not UTF-8.")]
        ) from exc


def header_check(data: bytes) -> None:
    """Line 1 is the header, exactly (checked when the file is posted: 422 otherwise)."""
    first = data.split(b"\n", 1)[0].removeprefix(b"\xef\xbb\xbf").removesuffix(b"\r")
    if first != HEADER.encode():
        raise ImportRefused(BAD_HEADER if data else NO_HEADER, [row_error(1, None, BAD_HEADER)])


def _header(cells: list[str]) -> list[str]:
    names = [cell.strip().lower() for cell in cells]
    if names != list(COLUMNS):
        missing = [name for name in COLUMNS if name not in names]
        extra = [cell for cell, name in zip(cells, names, strict=True) if name not in COLUMNS]
        problems = [row_error(1, name, "Missing column.") for name in missing]
        problems += [row_error(1, None, f"Unknown or repeated column {cell!r}.") for cell in extra]
        if not problems:  # a column named twice
            problems = [row_error(1, None, "Each column once.")]
        raise ImportRefused(BAD_HEADER, problems)
    return names


def _row(line: int, names: list[str], cells: list[str], errors: list[dict]) -> ImportRow | None:
    if len(cells) != len(names):
        errors.append(
            row_error(line, None, CELL_COUNT.format(expected=len(names), found=len(cells)))
        )
        return None
    values = dict(zip(names, cells, strict=True))
    found = len(errors)
    for name in COLUMNS:
        value = values[name]
        if "\x00" in value:
            errors.append(row_error(line, name, NUL_CHARACTER))
            values[name] = ""
            continue
        value = normalize_email(value) if name.endswith("email") else value.strip()
        if len(value) > MAX_LENGTHS[name]:
            errors.append(row_error(line, name, TOO_LONG.format(limit=MAX_LENGTHS[name])))
        values[name] = value
    if not any(error["field"] == "email" for error in errors[found:]):
        if not values["email"]:
            errors.append(row_error(line, "email", REQUIRED))
        elif not _EMAIL.match(values["email"]):
            errors.append(row_error(line, "email", BAD_EMAIL))
    if not values["full_name"] and not any(e["field"] == "full_name" for e in errors[found:]):
        errors.append(row_error(line, "full_name", REQUIRED))
    values["role"] = values["role"].lower()
    if values["role"] not in ROLES and not any(e["field"] == "role" for e in errors[found:]):
        errors.append(row_error(line, "role", BAD_ROLE))
    supervisor = values["supervisor_email"]
    if supervisor and not _EMAIL.match(supervisor):
        errors.append(row_error(line, "supervisor_email", BAD_EMAIL))
    if len(errors) > found:
        return None
    return ImportRow(line=line, **values)


def rows_read(data: bytes, *, max_rows: int) -> list[ImportRow]:
    """The rows of the file, each checked alone, plus one email per file; raises
    ImportRefused with every offending row (line numbers count the header as line 1 and
    the physical lines of quoted multi-line cells)."""
    text = _decode(data)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    errors: list[dict[str, Any]] = []
    rows: list[ImportRow] = []
    names: list[str] | None = None
    line, count = 1, 0  # the next physical line; data rows so far
    while True:
        start = line
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(row_error(reader.line_num, None, NOT_A_CSV_ROW.format(error=exc)))
            break  # the reader cannot resume after a broken quote
        line = reader.line_num + 1
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue  # a blank line
        if names is None:
            names = _header(cells)
            continue
        count += 1
        if count > max_rows:
            raise ImportRefused(TOO_MANY_ROWS.format(limit=max_rows))
        row = _row(start, names, cells, errors)
        if row is not None:
            rows.append(row)
    if names is None:
        raise ImportRefused(NO_HEADER, [row_error(1, None, "No header.")])
    first_line: dict[str, int] = {}
    for row in rows:
        if row.email in first_line:
            errors.append(
                row_error(row.line, "email", EMAIL_TWICE.format(line=first_line[row.email]))
            )
        first_line.setdefault(row.email, row.line)
    refuse_rows(errors)
    if not rows:
        raise ImportRefused(NO_ROWS)
    return rows
