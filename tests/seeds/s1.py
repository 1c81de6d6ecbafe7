"""Seed S1 (seeds/001_…, "OpenClaw API参考文档"): its examples replayed against OpenClaw.

Usage: s1.py BASE_URL API_KEY SECTION   (run by tests/tests/api/seed_s1.rs through
tests/python/run.sh). BASE_URL is the server's root; the seed's base URL
`https://api.openclaw.com/v1` becomes BASE_URL + "/v1". Other inputs, by environment:
OPENCLAW_MOCK_URL (the mock model provider, whose `POST /_mock/scripts` queues its next answer),
and for `errors`: OPENCLAW_KEY_NO_TASKS (a key without the `tasks` scope), OPENCLAW_KEY_PRO,
OPENCLAW_KEY_ENTERPRISE (keys of a pro and an enterprise tenant), OPENCLAW_KEY_THROTTLED (a key
of a tenant whose burst is 1).

Sections:
  python    §6 "Python客户端示例", verbatim: creates the task, then waits until it has ended
            (prints `任务创建成功: task_…` for the JavaScript example, seed_s1.rs runs that).
  tasks     §2.1 创建任务 / 获取任务状态 / 取消任务: request and response examples.
  sessions  §2.2 创建会话 / 会话对话.
  tools     §2.3 获取可用工具 / 执行工具.
  errors    §3 错误响应格式, §4 状态码, §5 速率限制.

Not replayed: §8's HTTPS (the tests serve plain HTTP on loopback).

Prints `seed s1 SECTION: ok (…)` and exits 0 when the section behaves as the seed shows.
"""

import os
import sys
import time

import requests

from seedcheck import Checks, at, is_int, is_number, is_rfc3339, parse_time

BASE, KEY, SECTION = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]
MOCK = os.environ.get("OPENCLAW_MOCK_URL", "")
# The seed's headers (§1 认证).
HEADERS = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}

# Checks the server does not pass yet: name → the example, what the seed expects, what the
# server answers. Remove an entry once the server is fixed (the run then fails until you do).
KNOWN_GAP = {}

c = Checks("s1", KNOWN_GAP)

# §6 "Python客户端示例", verbatim (only the host and the token are replaced when it runs).
S1_PYTHON = """
import requests

# 创建任务
response = requests.post(
    'https://api.openclaw.com/v1/tasks',
    headers={
        'Authorization': 'Bearer YOUR_API_TOKEN',
        'Content-Type': 'application/json'
    },
    json={
        'name': '数据处理任务',
        'type': 'data-processing',
        'parameters': {'input_file': 'data.csv'}
    }
)
task_id = response.json()['id']
print(f'任务创建成功: {task_id}')
"""

FINAL = ("completed", "failed", "cancelled")


def wait_until_ended(task_id, seconds=60):
    """A client waiting for a task: `GET /v1/tasks/{id}?wait=` until it has ended."""
    deadline = time.time() + seconds
    while True:
        task = requests.get(f"{BASE}/v1/tasks/{task_id}", params={"wait": 20}, headers=HEADERS).json()
        if task.get("status") in FINAL or time.time() > deadline:
            return task


def mock_next(script):
    """Queues the mock provider's next answer."""
    r = requests.post(f"{MOCK}/_mock/scripts", json=script)
    r.raise_for_status()


def python():
    scope = {}
    code = S1_PYTHON.replace("https://api.openclaw.com", BASE).replace("YOUR_API_TOKEN", KEY)
    c.run("§6 Python example runs", lambda: exec(code, scope))
    task_id = scope.get("task_id")
    if not c.check("§6 Python example: response.json()['id'] is a task id",
                   isinstance(task_id, str) and task_id.startswith("task_"), repr(task_id)):
        return
    task = wait_until_ended(task_id)
    c.eq("§6 the task completes", task.get("status"), "completed")
    # The task's type has no handler: it runs as an agent task on its name, type and
    # parameters, so the model's answer (the mock echoes its prompt) names the input file.
    c.has("§6 the result", task, "result.content", lambda v: "data.csv" in v, "the model's answer")


def task_fields(name, task):
    """The fields §2.1's `GET /tasks/{task_id}` example shows."""
    c.has(name, task, "id", lambda v: isinstance(v, str) and v.startswith("task_"), "task_…")
    c.has(name, task, "name", lambda v: isinstance(v, str))
    c.has(name, task, "status", lambda v: v in ("pending", "running", *FINAL), "a task status")
    c.has(name, task, "progress", lambda v: is_int(v) and 0 <= v <= 100, "an integer 0-100")
    c.has(name, task, "result", lambda v: v is None or isinstance(v, (dict, str)))
    c.has(name, task, "error", lambda v: v is None or isinstance(v, dict))
    c.has(name, task, "created_at", is_rfc3339, "RFC 3339")
    c.has(name, task, "updated_at", is_rfc3339, "RFC 3339")


def mock_requests():
    """How many requests the mock provider has had."""
    r = requests.get(f"{MOCK}/_mock/requests")
    r.raise_for_status()
    return len(r.json())


def tasks():
    # The task's run will hang at the model, so it is seen `running`, then cancelled.
    asked = mock_requests()
    mock_next({"hang": True})
    # §2.1 创建任务: POST /tasks with the request parameters it lists (name, type, parameters,
    # priority, timeout), given values of their documented types.
    r = requests.post(f"{BASE}/v1/tasks", headers=HEADERS, json={
        "name": "示例任务",
        "type": "data-processing",
        "parameters": {"input_file": "data.csv"},
        "priority": 5,
        "timeout": 120,
    })
    c.status("§2.1 POST /tasks", r, 201)
    created = r.json()
    # 响应示例: {"id": "task_12345", "name": "示例任务", "status": "pending", "created_at", "updated_at"}
    c.has("§2.1 POST /tasks", created, "id", lambda v: isinstance(v, str) and v.startswith("task_"), "task_…")
    c.has("§2.1 POST /tasks", created, "name", lambda v: v == "示例任务", "示例任务")
    c.has("§2.1 POST /tasks", created, "status", lambda v: v == "pending", "pending")
    c.has("§2.1 POST /tasks", created, "created_at", is_rfc3339, "RFC 3339")
    c.has("§2.1 POST /tasks", created, "updated_at", is_rfc3339, "RFC 3339")
    task_id = created.get("id")
    if not isinstance(task_id, str):
        return

    # §2.1 获取任务状态: GET /tasks/{task_id}. Its example is a running task; a client polls
    # until the worker has picked it up.
    deadline = time.time() + 30
    while True:
        r = requests.get(f"{BASE}/v1/tasks/{task_id}", headers=HEADERS)
        task = r.json()
        if task.get("status") != "pending" or time.time() > deadline:
            break
        time.sleep(0.1)
    c.status("§2.1 GET /tasks/{task_id}", r, 200)
    c.eq("§2.1 GET /tasks/{task_id}: status", task.get("status"), "running")
    task_fields("§2.1 GET /tasks/{task_id} (running)", task)
    c.has("§2.1 GET /tasks/{task_id} (running)", task, "result", lambda v: v is None, "null")
    c.has("§2.1 GET /tasks/{task_id} (running)", task, "error", lambda v: v is None, "null")
    c.check("§2.1 GET /tasks/{task_id}: updated_at >= created_at",
            is_rfc3339(task.get("updated_at")) and is_rfc3339(task.get("created_at"))
            and parse_time(task["updated_at"]) >= parse_time(task["created_at"]), task)

    # Cancelled once its run is at the model, holding the hanging answer: a cancel that beat
    # the model call would leave that answer queued for the next task.
    deadline = time.time() + 30
    while mock_requests() == asked and time.time() < deadline:
        time.sleep(0.05)

    # §2.1 取消任务: DELETE /tasks/{task_id}.
    r = requests.delete(f"{BASE}/v1/tasks/{task_id}", headers=HEADERS)
    c.status("§2.1 DELETE /tasks/{task_id}", r, 200)
    c.has("§2.1 DELETE /tasks/{task_id}", r.json(), "status", lambda v: v == "cancelled", "cancelled")
    task = requests.get(f"{BASE}/v1/tasks/{task_id}", headers=HEADERS).json()
    c.eq("§2.1 GET after DELETE: status", task.get("status"), "cancelled")
    task_fields("§2.1 GET /tasks/{task_id} (cancelled)", task)

    # And one that completes: the fields of a finished task.
    r = requests.post(f"{BASE}/v1/tasks", headers=HEADERS, json={
        "name": "示例任务", "type": "data-processing", "parameters": {"input_file": "data.csv"},
    })
    task = wait_until_ended(r.json()["id"])
    c.eq("§2.1 a task that runs: status", task.get("status"), "completed")
    task_fields("§2.1 GET /tasks/{task_id} (completed)", task)
    c.has("§2.1 GET /tasks/{task_id} (completed)", task, "progress", lambda v: v == 100, "100")
    c.has("§2.1 GET /tasks/{task_id} (completed)", task, "result", lambda v: v is not None, "the result")
    c.has("§2.1 GET /tasks/{task_id} (completed)", task, "error", lambda v: v is None, "null")


def sessions():
    # §2.2 创建会话: {"agent_id", "context", "ttl"}; its example answers for agent `qwencode`
    # with an hour between created_at and expires_at.
    r = requests.post(f"{BASE}/v1/sessions", headers=HEADERS, json={
        "agent_id": "qwencode",
        "context": {"project": "示例"},
        "ttl": 3600,
    })
    c.status("§2.2 POST /sessions", r, 201)
    s = r.json()
    c.has("§2.2 POST /sessions", s, "session_id", lambda v: isinstance(v, str) and v.startswith("session_"), "session_…")
    c.has("§2.2 POST /sessions", s, "agent_id", lambda v: v == "qwencode", "qwencode")
    c.has("§2.2 POST /sessions", s, "created_at", is_rfc3339, "RFC 3339")
    c.has("§2.2 POST /sessions", s, "expires_at", is_rfc3339, "RFC 3339")
    if is_rfc3339(s.get("created_at")) and is_rfc3339(s.get("expires_at")):
        ttl = (parse_time(s["expires_at"]) - parse_time(s["created_at"])).total_seconds()
        c.check("§2.2 POST /sessions: expires_at = created_at + ttl", abs(ttl - 3600) < 1, ttl)
    session_id = s.get("session_id")
    if not isinstance(session_id, str):
        return

    # §2.2 会话对话: POST /sessions/{session_id}/messages {"content", "type"} →
    # {"message_id", "content": "回复内容", "role": "assistant", "timestamp"}.
    r = requests.post(f"{BASE}/v1/sessions/{session_id}/messages", headers=HEADERS, json={
        "content": "你好,介绍一下你自己",
        "type": "text",
    })
    c.status("§2.2 POST /sessions/{session_id}/messages", r, 200)
    m = r.json()
    name = "§2.2 POST /sessions/{session_id}/messages"
    c.has(name, m, "message_id", lambda v: isinstance(v, str) and v.startswith("msg_"), "msg_…")
    # The mock model echoes the user's message: the reply is the model's.
    c.has(name, m, "content", lambda v: isinstance(v, str) and "介绍一下你自己" in v, "the model's reply")
    c.has(name, m, "role", lambda v: v == "assistant", "assistant")
    c.has(name, m, "timestamp", is_rfc3339, "RFC 3339")
    # The conversation goes on in the session: a second message is answered there too.
    r = requests.post(f"{BASE}/v1/sessions/{session_id}/messages", headers=HEADERS,
                      json={"content": "谢谢", "type": "text"})
    c.status(f"{name} (second)", r, 200)
    c.check(f"{name} (second): a new message", r.json().get("message_id") not in (None, m.get("message_id")), r.text)


def tools():
    # §2.3 获取可用工具: GET /tools → [{"name", "description", "version", "input_schema",
    # "output_schema"}].
    r = requests.get(f"{BASE}/v1/tools", headers=HEADERS)
    c.status("§2.3 GET /tools", r, 200)
    listed = r.json()
    if not c.check("§2.3 GET /tools: a non-empty JSON array", isinstance(listed, list) and listed, r.text):
        return
    for t in listed:
        name = f"§2.3 GET /tools [{t.get('name')}]"
        c.has(name, t, "name", lambda v: isinstance(v, str) and v)
        c.has(name, t, "description", lambda v: isinstance(v, str) and v)
        c.has(name, t, "version", lambda v: isinstance(v, str) and v.count(".") == 2, "semver")
        c.has(name, t, "input_schema", lambda v: isinstance(v, dict), "an object")
        c.has(name, t, "output_schema", lambda v: isinstance(v, dict), "an object")

    # §2.3 执行工具: POST /tools/{tool_name}/execute {"parameters"} →
    # {"result", "metadata": {"execution_time", "memory_used"}}.
    r = requests.post(f"{BASE}/v1/tools/calculator/execute", headers=HEADERS,
                      json={"parameters": {"expression": "(1 + 2) * 4"}})
    c.status("§2.3 POST /tools/{tool_name}/execute", r, 200)
    out = r.json()
    name = "§2.3 POST /tools/{tool_name}/execute"
    c.has(name, out, "result", lambda v: at(v, "result") == 12, "the calculator's answer, 12")
    c.has(name, out, "metadata.execution_time", lambda v: is_number(v) and v >= 0, "a number")
    # The seed shows "2.5MB"; built-in tools run inside the server, whose memory per call is
    # not measured, so docs/api.md §5.10 documents `null`.
    c.has(name, out, "metadata.memory_used", lambda v: v is None or isinstance(v, str), "present")


def error_shape(name, r, status, code):
    """§3: {"error": {"code", "message", "details"}} with §4's status. The seed's codes are upper
    case (`NOT_FOUND`); API.md §3 settles on the lower-case spelling S4 and OpenAI use."""
    c.status(name, r, status)
    try:
        body = r.json()
    except ValueError:
        c.check(f"{name}: JSON body", False, r.text)
        return
    c.has(name, body, "error.code", lambda v: isinstance(v, str) and v.upper() == code, code)
    c.has(name, body, "error.message", lambda v: isinstance(v, str) and v, "a message")
    c.has(name, body, "error.details", lambda v: v is not None, "present")


def errors():
    # §3/§4: each status the seed lists that a client can provoke.
    error_shape("§4 400 INVALID_REQUEST", requests.post(
        f"{BASE}/v1/tasks", headers=HEADERS, json={"name": "数据处理任务"}), 400, "INVALID_REQUEST")
    error_shape("§4 401 UNAUTHORIZED", requests.get(
        f"{BASE}/v1/tasks/task_12345",
        headers={"Authorization": "Bearer YOUR_API_TOKEN", "Content-Type": "application/json"}),
        401, "UNAUTHORIZED")
    no_tasks = os.environ["OPENCLAW_KEY_NO_TASKS"]
    error_shape("§4 403 FORBIDDEN", requests.get(
        f"{BASE}/v1/tasks", headers={"Authorization": f"Bearer {no_tasks}"}), 403, "FORBIDDEN")
    # The seed's own example id, which names no task of this tenant.
    error_shape("§4 404 NOT_FOUND", requests.get(
        f"{BASE}/v1/tasks/task_12345", headers=HEADERS), 404, "NOT_FOUND")

    # §5 速率限制: 1000/hour by default, 10000 for 高级账户 (pro), 100000 for 企业账户.
    for label, key, limit in (
        ("默认限制", KEY, "1000"),
        ("高级账户", os.environ["OPENCLAW_KEY_PRO"], "10000"),
        ("企业账户", os.environ["OPENCLAW_KEY_ENTERPRISE"], "100000"),
    ):
        r = requests.get(f"{BASE}/v1/tasks", headers={"Authorization": f"Bearer {key}"})
        c.status(f"§5 {label}", r, 200)
        c.eq(f"§5 {label}: X-RateLimit-Limit", r.headers.get("X-RateLimit-Limit"), limit)
    # 超过限制时会返回 429 Too Many Requests.
    throttled = {"Authorization": f"Bearer {os.environ['OPENCLAW_KEY_THROTTLED']}"}
    first = requests.get(f"{BASE}/v1/tasks", headers=throttled)
    c.status("§5 within the limit", first, 200)
    error_shape("§5 over the limit: 429", requests.get(f"{BASE}/v1/tasks", headers=throttled),
                429, "RATE_LIMITED")


SECTIONS = {"python": python, "tasks": tasks, "sessions": sessions, "tools": tools, "errors": errors}
SECTIONS[SECTION]()
c.finish(SECTION)
