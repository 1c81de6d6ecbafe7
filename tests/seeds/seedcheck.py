"""What the seed scripts (s1.py, s3.py, s4.py) share: named checks with a KNOWN_GAP list, field
paths, RFC 3339 times, the seeds' curl lines run by bash, and SSE parsing.

A check whose name is in the script's KNOWN_GAP (the server answers differently from the seed,
and the server is to be fixed) is reported but does not fail the run; one that then passes fails
it, so that the entry is removed once the server is fixed. Every other failed check fails the run.
"""

import json
import os
import re
import subprocess
import sys
import traceback
from datetime import datetime

MISSING = object()


def at(value, path):
    """The value at `path` (`a.b[0].c`), or MISSING."""
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        if part.startswith("["):
            i = int(part[1:-1])
            if not isinstance(value, list) or i >= len(value):
                return MISSING
            value = value[i]
        else:
            if not isinstance(value, dict) or part not in value:
                return MISSING
            value = value[part]
    return value


def is_rfc3339(value):
    """An RFC 3339 time with a zone, as the seeds show them (`2026-03-12T10:30:00Z`)."""
    if not isinstance(value, str) or "T" not in value:
        return False
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return t.tzinfo is not None


def parse_time(value):
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def show(value):
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


class Checks:
    def __init__(self, seed, known_gaps):
        self.seed = seed
        self.known_gaps = known_gaps
        self.failures = []
        self.open_gaps = []
        self.count = 0

    def check(self, name, ok, detail=""):
        """Records check `name`; `detail` says what the server answered."""
        self.count += 1
        ok = bool(ok)
        if name in self.known_gaps:
            if ok:
                self.failures.append(
                    f"{name}: passes now, remove it from KNOWN_GAP ({self.known_gaps[name]})"
                )
                print(f"FIXED  {name}")
            else:
                self.open_gaps.append(name)
                print(f"KNOWN_GAP {name}: {self.known_gaps[name]} | got: {detail}")
        elif ok:
            print(f"ok     {name}")
        else:
            self.failures.append(f"{name}: {detail}")
            print(f"FAIL   {name}: {detail}")
        return ok

    def eq(self, name, actual, expected):
        return self.check(name, actual == expected, f"{show(actual)}, expected {show(expected)}")

    def has(self, name, body, path, test=lambda v: True, what="present"):
        """Checks that `body` has `path`, and that its value passes `test`."""
        value = at(body, path)
        ok = value is not MISSING and test(value)
        return self.check(
            f"{name}: {path}",
            ok,
            f"{path} = {'missing' if value is MISSING else show(value)}, expected {what}"
            f" (body: {show(body)[:1500]})",
        )

    def status(self, name, resp, expected):
        return self.check(
            f"{name}: HTTP {expected}",
            resp.status_code == expected,
            f"HTTP {resp.status_code}: {resp.text[:1500]}",
        )

    def run(self, name, fn):
        """Runs one seed snippet; an exception is a failed check named `name`."""
        try:
            return fn()
        except Exception:  # noqa: BLE001 - the traceback is the report
            self.check(name, False, traceback.format_exc())
            return None

    def finish(self, section):
        if self.failures:
            print(f"seed {self.seed} {section}: {len(self.failures)} failed", file=sys.stderr)
            for f in self.failures:
                print(f"  - {f}", file=sys.stderr)
            sys.exit(1)
        gaps = f", {len(self.open_gaps)} known gaps open" if self.open_gaps else ""
        print(f"seed {self.seed} {section}: ok ({self.count} checks{gaps})")


def curl(command, replace, env=None):
    """Runs one of the seed's curl commands with bash, exactly as written but for `replace`
    (host and token). Returns (exit code, stdout: the body, stderr)."""
    for old, new in replace.items():
        command = command.replace(old, new)
    full_env = dict(os.environ, **(env or {}))
    p = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, env=full_env, timeout=120
    )
    return p.returncode, p.stdout, p.stderr


def sse_events(text):
    """Parses an SSE body into [(event, data)], `data` parsed as JSON when it is."""
    events = []
    for block in re.split(r"\r?\n\r?\n", text):
        event, data = "message", []
        for line in block.splitlines():
            if line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)
        if data:
            raw = "\n".join(data)
            try:
                events.append((event, json.loads(raw)))
            except ValueError:
                events.append((event, raw))
    return events
