"""What s0.py and s2.py share: named checks with a KNOWN_GAP list, field paths, the seeds' bash
blocks run by bash and curl exactly as written, their JavaScript run by Node, SSE parsing and the
mock model provider's script queue.

A check whose name is in the script's KNOWN_GAP (the server answers differently from the seed,
and the server is to be fixed) is reported but does not fail the run; one that then passes fails
it, so that the entry is removed once the server is fixed. Every other failed check fails the run.
(The same rules as seedcheck.py, which s1.py, s3.py and s4.py use.)
"""

import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

# Field paths, times and the check bookkeeping are seedcheck.py's (shared with s1, s3, s4).
from seedcheck import MISSING, at, is_int, is_number, is_rfc3339, parse_time  # noqa: E402,F401
from seedcheck import Checks as _Checks  # noqa: E402
from seedcheck import show as _show  # noqa: E402


def is_text(value):
    return isinstance(value, str) and value != ""


def show(value):
    return "missing" if value is MISSING else _show(value)


class Checks(_Checks):
    """seedcheck's checks, where `has` returns the value (MISSING when it fails) and `status`
    reads a `Reply` and takes one status or a collection of acceptable ones."""

    def has(self, name, body, path, test=lambda v: True, what="present"):
        value = at(body, path)
        ok = value is not MISSING and test(value)
        self.check(
            f"{name}: {path}",
            ok,
            f"{path} = {show(value)}, expected {what} (body: {show(body)[:1500]})",
        )
        return value if ok else MISSING

    def status(self, name, reply, expected):
        ok = reply.status in expected if isinstance(expected, (set, tuple, list)) else (
            reply.status == expected
        )
        return self.check(
            f"{name}: HTTP {expected}", ok, f"HTTP {reply.status}: {reply.body[:1500]}"
        )


class Reply:
    """One HTTP exchange: a curl invocation of a seed's block, or a request this script made."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.body = body

    @classmethod
    def of(cls, resp):
        """From a `requests` response."""
        return cls(resp.status_code, dict(resp.headers), resp.content.decode("utf-8", "replace"))

    def header(self, name):
        value = self.headers.get(name.lower())
        return value[0] if isinstance(value, list) else value

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return MISSING

    def __repr__(self):
        return f"HTTP {self.status}: {self.body[:500]}"


# Appended by curl after every transfer (through the .curlrc below, so that the seed's command
# lines stay exactly as written): the status and the response headers.
_WRITE_OUT = r"\n<<<curl %{http_code}\n%{header_json}\n>>>\n"
_REPLY = re.compile(r"\n<<<curl (\d{3})\n(.*?)\n>>>\n", re.S)


class Ran:
    """What a bash block did: its exit code, its output, and each curl transfer in order."""

    def __init__(self, code, stdout, stderr):
        self.code, self.stderr = code, stderr
        self.replies = []
        self.text = []  # the output around the transfers (a command's own output)
        pos = 0
        for m in _REPLY.finditer(stdout):
            headers = json.loads(m.group(2)) if m.group(2).strip() else {}
            self.replies.append(Reply(int(m.group(1)), headers, stdout[pos : m.start()]))
            pos = m.end()
        self.stdout = stdout[pos:] if self.replies else stdout

    def __repr__(self):
        return (
            f"exit {self.code}, replies {self.replies}, stdout {self.stdout[:500]!r}, "
            f"stderr {self.stderr[:1500]!r}"
        )


def bash(block, replace, env=None, timeout=120):
    """Runs one of the seed's bash blocks exactly as written but for `replace` (host, token).

    A .curlrc (CURL_HOME) makes curl add each response's status and headers after its body
    (`-w`), stay quiet about progress and show errors: the command lines are not touched. Aliases
    are expanded as in the interactive shell the seed's readers type into.
    """
    for old, new in replace.items():
        block = block.replace(old, new)
    home = tempfile.mkdtemp(prefix="openclaw-curl-")
    try:
        with open(os.path.join(home, ".curlrc"), "w") as f:
            f.write(f'silent\nshow-error\nwrite-out = "{_WRITE_OUT}"\n')
        full_env = dict(os.environ, CURL_HOME=home, **(env or {}))
        p = subprocess.run(
            ["bash", "-c", "shopt -s expand_aliases\n" + block],
            capture_output=True,
            text=True,
            env=full_env,
            timeout=timeout,
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return Ran(p.returncode, p.stdout, p.stderr)


def _staged(files, replace):
    """Copies `files` (names in this folder) into a fresh directory with `replace` applied."""
    tmp = tempfile.mkdtemp(prefix="openclaw-seed-")
    for name in files:
        with open(os.path.join(HERE, name), encoding="utf-8") as f:
            text = f.read()
        for old, new in replace.items():
            text = text.replace(old, new)
        with open(os.path.join(tmp, name), "w", encoding="utf-8") as f:
            f.write(text)
    return tmp


def _text(out):
    return out.decode("utf-8", "replace") if isinstance(out, bytes) else (out or "")


def node(files, main, replace, args=(), flags=(), timeout=60):
    """Runs `main` (one of `files`) with Node after replacing the host and the token in `files`.
    Returns (exit code, stdout, stderr); the code is None if it had to be stopped."""
    tmp = _staged(files, replace)
    try:
        p = subprocess.run(
            ["node", *flags, os.path.join(tmp, main), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        return None, _text(e.stdout), _text(e.stderr) + f"\n(stopped after {timeout} s)"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def node_until(files, main, replace, flags=(), timeout=30):
    """Runs a script that does not exit by itself (an open WebSocket), until it has printed a
    line (stdout or stderr) or has ended. Returns (stdout lines, stderr lines, exit code or
    None when it was still running and was stopped)."""
    tmp = _staged(files, replace)
    p = subprocess.Popen(
        ["node", *flags, os.path.join(tmp, main)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = queue.Queue()

    def pump(stream, name):
        for line in stream:
            lines.put((name, line.rstrip("\n")))
        lines.put((name, None))

    for stream, name in ((p.stdout, "out"), (p.stderr, "err")):
        threading.Thread(target=pump, args=(stream, name), daemon=True).start()
    out, err, ended = [], [], 0
    deadline = time.time() + timeout
    try:
        while ended < 2 and not (out or err):
            try:
                name, line = lines.get(timeout=max(0.0, deadline - time.time()))
            except queue.Empty:
                break
            if line is None:
                ended += 1
            else:
                (out if name == "out" else err).append(line)
    finally:
        code = p.poll()
        if code is None:
            p.kill()
        p.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    return out, err, code


def sse_events(text):
    """Parses an SSE body into the `data:` of each event, parsed as JSON when it is."""
    events = []
    for block in re.split(r"\r?\n\r?\n", text):
        data = []
        for line in block.splitlines():
            if line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "data":
                data.append(value)
        if data:
            raw = "\n".join(data)
            try:
                events.append(json.loads(raw))
            except ValueError:
                events.append(raw)
    return events


class Mock:
    """The mock model provider (OPENCLAW_MOCK_URL): `POST /_mock/scripts` queues its next
    answers, `GET /_mock/requests` shows what it was asked."""

    def __init__(self, url):
        self.url = url.rstrip("/")

    def next(self, **script):
        requests.post(f"{self.url}/_mock/scripts", json=script, timeout=10).raise_for_status()

    def requests(self):
        return requests.get(f"{self.url}/_mock/requests", timeout=10).json()

    def last_request(self):
        asked = self.requests()
        return asked[-1]["body"] if asked else {}

    def last_user_text(self):
        """What the last request's last message said."""
        messages = self.last_request().get("messages") or [{}]
        return messages[-1].get("content")


def now():
    return datetime.now(timezone.utc)
