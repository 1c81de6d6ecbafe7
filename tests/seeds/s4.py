"""Seed S4 (seeds/004_…, "API 参考 - WebSocket 与 HTTP 接口"): its HTTP examples replayed against
OpenClaw. (The seed file is UTF-8 read as Latin-1 and saved again; its code is ASCII and copied
as it is, its Chinese comments are given here as the author wrote them.)

Usage: s4.py BASE_URL API_KEY SECTION   (run by tests/tests/api/seed_s4.rs through
tests/python/run.sh). The seed's hosts (`http://localhost:18789`, `https://gateway:18789`)
become BASE_URL; its tokens (`<token>`, `<your-token>`, `your-token`, `your-openclaw-token`,
`$TOKEN`) the API key. The raw HTTP blocks are sent as written (request line, headers, body);
those the seed shows without an `Authorization` header get the Bearer one (认证: "所有 API 请求都
需要认证"). Other inputs, by environment: OPENCLAW_KEY_NO_MESSAGES (a key without the `messages`
scope), OPENCLAW_KEY_THROTTLED (a key of a tenant whose burst is 1).

Sections:
  status    认证 (Token and Password headers) and HTTP API 1. 状态检查 GET /status.
  agent     2. 运行 Agent POST /v1/agent/run and 3. 流式响应 POST /v1/agent/run/stream.
  sessions  4. 会话管理 GET /v1/sessions, GET and DELETE /v1/sessions/session-123.
  openai    OpenAI 兼容 API: Chat Completions, 使用 OpenAI SDK (verbatim, the official SDK),
            模型列表 GET /v1/models.
  errors    错误处理: the error format and the codes of its table that a client can provoke;
            API 限制: 请求大小 10MB.
  examples  代码示例: Python (verbatim) and cURL (both commands, run by bash as written).

The WebSocket examples are run by s4_ws.cjs. Skipped (see the list at the top of seed_s4.rs):
5. 频道管理, 6. 浏览器控制, the JavaScript `openclaw-client` SDK, `?token=`/`?password=` on HTTP
routes ("认证: Header 或 Query 参数": API.md §2 refuses credentials in query strings outside
WebSocket upgrades), 500/503, and the 300 s timeout and 100/min rate of API 限制 (API.md §4 sets
the rate by tier).

Prints `seed s4 SECTION: ok (…)` and exits 0 when the section behaves as the seed shows.
"""

import base64
import contextlib
import io
import json
import os
import sys
from urllib.parse import urlparse

import requests

from seedcheck import Checks, curl, is_int, is_rfc3339, sse_events

BASE, KEY, SECTION = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]
AUTH = {"Authorization": f"Bearer {KEY}"}

# Checks the server does not pass yet: name → the example, what the seed expects, what the
# server answers. Remove an entry once the server is fixed (the run then fails until you do).
KNOWN_GAP = {}

c = Checks("s4", KNOWN_GAP)


def send(block, auth=True, stream=False):
    """Sends one of the seed's raw HTTP blocks as written: request line, headers, blank line,
    body. `<token>` is the key; a block without `Authorization` gets the Bearer header."""
    head, _, body = block.strip().partition("\n\n")
    lines = head.splitlines()
    method, path = lines[0].split()
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(": ")
        headers[name] = value.replace("<token>", KEY)
    if auth and "Authorization" not in headers:
        headers.update(AUTH)
    return requests.request(method, BASE + path, headers=headers,
                            data=body.encode() if body else None, stream=stream)


def usage_fields(name, body, path="usage"):
    for f in ("promptTokens", "completionTokens", "totalTokens"):
        c.has(name, body, f"{path}.{f}", lambda v: is_int(v) and v > 0, "a positive integer")
    u = body.get(path) if isinstance(body, dict) else None
    if isinstance(u, dict) and all(is_int(u.get(f)) for f in ("promptTokens", "completionTokens", "totalTokens")):
        c.eq(f"{name}: totalTokens = promptTokens + completionTokens",
             u["totalTokens"], u["promptTokens"] + u["completionTokens"])


# ---- 认证 and 1. 状态检查 ------------------------------------------------------------------

STATUS_HTTP = """
GET /status
"""


def status():
    # Token 认证: `Authorization: Bearer <your-token>`.
    r = send(STATUS_HTTP)
    c.status("GET /status (Bearer)", r, 200)
    body = r.json()
    # 响应: {"status": "ok", "version": "2026.2.13", "uptime": 3600,
    #        "gateway": {"port": 18789, "bind": "127.0.0.1", "auth": "token"},
    #        "channels": {"whatsapp": "connected", …}}
    c.has("GET /status", body, "status", lambda v: v == "ok", '"ok"')
    c.has("GET /status", body, "version", lambda v: isinstance(v, str) and v, "a version")
    c.has("GET /status", body, "uptime", lambda v: is_int(v) and v >= 0, "seconds, an integer")
    served = urlparse(BASE)
    c.eq("GET /status: gateway.port", body.get("gateway", {}).get("port"), served.port)
    c.has("GET /status", body, "gateway.bind", lambda v: v == served.hostname, served.hostname)
    c.has("GET /status", body, "gateway.auth", lambda v: v == "token", '"token"')
    c.has("GET /status", body, "channels", lambda v: isinstance(v, dict), "an object")
    for state in (body.get("channels") or {}).values():
        c.check("GET /status: channels map a channel to its state", isinstance(state, str), body)

    # Password 认证: `Authorization: Basic <base64(user:password)>` and
    # `X-OpenClaw-Password: <password>`, the password being the key.
    basic = base64.b64encode(f"user:{KEY}".encode()).decode()
    r = requests.get(f"{BASE}/status", headers={"Authorization": f"Basic {basic}"})
    c.status("GET /status (Basic)", r, 200)
    c.has("GET /status (Basic)", r.json(), "status", lambda v: v == "ok", '"ok"')
    r = requests.get(f"{BASE}/status", headers={"X-OpenClaw-Password": KEY})
    c.status("GET /status (X-OpenClaw-Password)", r, 200)
    c.has("GET /status (X-OpenClaw-Password)", r.json(), "status", lambda v: v == "ok", '"ok"')
    # And without credentials it is refused.
    c.status("GET /status (no credentials)", send(STATUS_HTTP, auth=False), 401)


# ---- 2. 运行 Agent and 3. 流式响应 ---------------------------------------------------------

AGENT_RUN_HTTP = """
POST /v1/agent/run
Content-Type: application/json
Authorization: Bearer <token>

{
  "message": "Hello, AI!",
  "sessionKey": "session-123",
  "agentId": "default",
  "options": {
    "thinking": "medium",
    "model": "anthropic/claude-3-5-sonnet"
  }
}
"""

AGENT_STREAM_HTTP = """
POST /v1/agent/run/stream
Content-Type: application/json
Authorization: Bearer <token>

{
  "message": "Hello",
  "sessionKey": "session-123",
  "stream": true
}
"""


def agent_run_fields(name, body, message):
    # 响应: {"runId": "run-456", "sessionKey": "session-123",
    #        "response": "Hello! How can I help you today?",
    #        "usage": {"promptTokens": 10, "completionTokens": 15, "totalTokens": 25}}
    c.has(name, body, "runId", lambda v: isinstance(v, str) and v.startswith("run"), "a run id")
    c.has(name, body, "sessionKey", lambda v: v == "session-123", "session-123")
    # The mock model echoes the message: this is the model's answer.
    c.has(name, body, "response", lambda v: isinstance(v, str) and message in v, "the model's answer")
    usage_fields(name, body)


def agent():
    r = send(AGENT_RUN_HTTP)
    c.status("POST /v1/agent/run", r, 200)
    agent_run_fields("POST /v1/agent/run", r.json(), "Hello, AI!")

    r = send(AGENT_STREAM_HTTP, stream=True)
    c.status("POST /v1/agent/run/stream", r, 200)
    c.check("POST /v1/agent/run/stream: an SSE response",
            r.headers.get("content-type", "").startswith("text/event-stream"), r.headers)
    events = sse_events(r.text)
    # 响应 (SSE): event: delta {"delta": "Hello", "runId"} … event: done {"runId", "finishReason": "stop"}
    deltas = [d for e, d in events if e == "delta"]
    done = [d for e, d in events if e == "done"]
    name = "POST /v1/agent/run/stream"
    c.check(f"{name}: delta events, then one done last",
            deltas and len(done) == 1 and events[-1][0] == "done", events)
    for d in deltas:
        c.has(f"{name}: delta", d, "delta", lambda v: isinstance(v, str))
        c.has(f"{name}: delta", d, "runId", lambda v: isinstance(v, str) and v.startswith("run"), "a run id")
    text = "".join(d.get("delta", "") for d in deltas if isinstance(d, dict))
    c.check(f"{name}: the deltas make the model's answer", "Hello" in text, text)
    if done:
        c.has(f"{name}: done", done[0], "runId", lambda v: isinstance(v, str), "a run id")
        c.has(f"{name}: done", done[0], "finishReason", lambda v: v == "stop", '"stop"')
        run_ids = {d.get("runId") for d in deltas + done if isinstance(d, dict)}
        c.check(f"{name}: one runId throughout", len(run_ids) == 1, run_ids)


# ---- 4. 会话管理 ---------------------------------------------------------------------------

LIST_SESSIONS_HTTP = """
GET /v1/sessions
"""
GET_SESSION_HTTP = """
GET /v1/sessions/session-123
"""
DELETE_SESSION_HTTP = """
DELETE /v1/sessions/session-123
"""


def session_fields(name, s, messages):
    # {"sessionKey": "session-123", "agentId": "default", "channel": "whatsapp",
    #  "createdAt", "updatedAt", "messageCount": 25}
    c.has(name, s, "sessionKey", lambda v: v == "session-123", "session-123")
    c.has(name, s, "agentId", lambda v: v == "default", "default")
    c.has(name, s, "channel", lambda v: isinstance(v, str) and v, "the channel")
    c.has(name, s, "createdAt", is_rfc3339, "RFC 3339")
    c.has(name, s, "updatedAt", is_rfc3339, "RFC 3339")
    c.has(name, s, "messageCount", lambda v: v == messages, str(messages))


def sessions():
    # A conversation in session-123 first (2. 运行 Agent's request).
    r = send(AGENT_RUN_HTTP)
    c.status("POST /v1/agent/run (session-123)", r, 200)

    r = send(LIST_SESSIONS_HTTP)
    c.status("GET /v1/sessions", r, 200)
    listed = r.json().get("sessions")
    if c.check("GET /v1/sessions: sessions is a list", isinstance(listed, list), r.text):
        mine = [s for s in listed if s.get("sessionKey") == "session-123"]
        if c.check("GET /v1/sessions: session-123 is listed", len(mine) == 1, listed):
            session_fields("GET /v1/sessions[session-123]", mine[0], 2)

    r = send(GET_SESSION_HTTP)
    c.status("GET /v1/sessions/session-123", r, 200)
    session_fields("GET /v1/sessions/session-123", r.json(), 2)

    r = send(DELETE_SESSION_HTTP)
    c.status("DELETE /v1/sessions/session-123", r, 200)
    c.status("GET /v1/sessions/session-123 after DELETE", send(GET_SESSION_HTTP), 404)
    listed = send(LIST_SESSIONS_HTTP).json().get("sessions", [])
    c.check("GET /v1/sessions after DELETE: session-123 is gone",
            all(s.get("sessionKey") != "session-123" for s in listed), listed)


# ---- OpenAI 兼容 API -----------------------------------------------------------------------

CHAT_COMPLETIONS_HTTP = """
POST /v1/chat/completions
Authorization: Bearer <token>

{
  "model": "anthropic/claude-3-5-sonnet",
  "messages": [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Hello!"}
  ],
  "stream": false,
  "temperature": 0.7,
  "max_tokens": 1000
}
"""

# 使用 OpenAI SDK, verbatim.
OPENAI_SDK = """
from openai import OpenAI

client = OpenAI(
    base_url="http://localhost:18789/v1",
    api_key="your-openclaw-token"
)

response = client.chat.completions.create(
    model="anthropic/claude-3-5-sonnet",
    messages=[
        {"role": "user", "content": "Hello!"}
    ]
)

print(response.choices[0].message.content)
"""

MODELS_HTTP = """
GET /v1/models
"""


def openai():
    r = send(CHAT_COMPLETIONS_HTTP)
    c.status("POST /v1/chat/completions", r, 200)
    body = r.json()
    # 响应: {"id": "chatcmpl-xxx", "object": "chat.completion", "created": 1707830400,
    #        "model": "anthropic/claude-3-5-sonnet", "choices": [{"index": 0, "message":
    #        {"role": "assistant", "content": "Hello! …"}, "finish_reason": "stop"}],
    #        "usage": {"prompt_tokens": 20, "completion_tokens": 10, "total_tokens": 30}}
    name = "POST /v1/chat/completions"
    c.has(name, body, "id", lambda v: isinstance(v, str) and v.startswith("chatcmpl-"), "chatcmpl-…")
    c.has(name, body, "object", lambda v: v == "chat.completion", "chat.completion")
    c.has(name, body, "created", lambda v: is_int(v) and v > 1_700_000_000, "Unix seconds")
    c.has(name, body, "model", lambda v: v == "anthropic/claude-3-5-sonnet", "anthropic/claude-3-5-sonnet")
    c.has(name, body, "choices[0].index", lambda v: v == 0, "0")
    c.has(name, body, "choices[0].message.role", lambda v: v == "assistant", "assistant")
    c.has(name, body, "choices[0].message.content", lambda v: isinstance(v, str) and "Hello!" in v, "the model's answer")
    c.has(name, body, "choices[0].finish_reason", lambda v: v == "stop", "stop")
    for f in ("prompt_tokens", "completion_tokens", "total_tokens"):
        c.has(name, body, f"usage.{f}", lambda v: is_int(v) and v > 0, "a positive integer")
    u = body.get("usage", {})
    if all(is_int(u.get(f)) for f in ("prompt_tokens", "completion_tokens", "total_tokens")):
        c.eq(f"{name}: total_tokens", u["total_tokens"], u["prompt_tokens"] + u["completion_tokens"])

    code = OPENAI_SDK.replace("http://localhost:18789", BASE).replace("your-openclaw-token", KEY)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        c.run("使用 OpenAI SDK: the example runs", lambda: exec(code, {}))
    c.check("使用 OpenAI SDK: prints the model's answer", "Hello!" in out.getvalue(), out.getvalue())

    r = send(MODELS_HTTP)
    c.status("GET /v1/models", r, 200)
    body = r.json()
    # 响应: {"object": "list", "data": [{"id": "anthropic/claude-3-5-sonnet", "object": "model",
    #        "created": 1707830400, "owned_by": "anthropic"}, {"id": "openai/gpt-4o", …}]}
    c.has("GET /v1/models", body, "object", lambda v: v == "list", "list")
    models = body.get("data") if isinstance(body.get("data"), list) else []
    for m in models:
        name = f"GET /v1/models [{m.get('id')}]"
        c.has(name, m, "id", lambda v: isinstance(v, str) and "/" in v, "provider/model")
        c.has(name, m, "object", lambda v: v == "model", "model")
        c.has(name, m, "created", is_int, "Unix seconds")
        c.has(name, m, "owned_by", lambda v: isinstance(v, str) and v, "the provider")
    by_id = {m.get("id"): m for m in models}
    for wanted, owner in (("anthropic/claude-3-5-sonnet", "anthropic"), ("openai/gpt-4o", "openai")):
        c.check(f"GET /v1/models: {wanted} listed", wanted in by_id, list(by_id))
        c.eq(f"GET /v1/models: {wanted} owned_by", by_id.get(wanted, {}).get("owned_by"), owner)


# ---- 错误处理 and API 限制 -----------------------------------------------------------------

def error_shape(name, r, status, code, param=None):
    # 错误响应格式: {"error": {"code": "invalid_request", "message": "Invalid session key",
    #               "type": "client_error", "param": "sessionKey"}}. API.md §3 gives `type`
    # OpenAI's values (`invalid_request_error`), so that OpenAI SDKs parse the error.
    c.status(name, r, status)
    try:
        body = r.json()
    except ValueError:
        c.check(f"{name}: JSON body", False, r.text)
        return
    c.has(name, body, "error.code", lambda v: v == code, code)
    c.has(name, body, "error.message", lambda v: isinstance(v, str) and v, "a message")
    c.has(name, body, "error.type", lambda v: isinstance(v, str) and v, "a type")
    c.has(name, body, "error.param", lambda v: v == param, repr(param))


def errors():
    run = json.loads(AGENT_RUN_HTTP.strip().partition("\n\n")[2])
    # An invalid session key, as the format's example ("Invalid session key", param sessionKey).
    error_shape("400 invalid_request", requests.post(
        f"{BASE}/v1/agent/run", headers=AUTH, json=dict(run, sessionKey="session/123")),
        400, "invalid_request", "sessionKey")
    error_shape("401 unauthorized", requests.post(
        f"{BASE}/v1/agent/run", headers={"Authorization": "Bearer your-token"}, json=run),
        401, "unauthorized")
    error_shape("403 forbidden", requests.post(
        f"{BASE}/v1/agent/run",
        headers={"Authorization": f"Bearer {os.environ['OPENCLAW_KEY_NO_MESSAGES']}"}, json=run),
        403, "forbidden")
    error_shape("404 not_found", send(GET_SESSION_HTTP), 404, "not_found")
    throttled = {"Authorization": f"Bearer {os.environ['OPENCLAW_KEY_THROTTLED']}"}
    c.status("429: within the limit", requests.get(f"{BASE}/v1/sessions", headers=throttled), 200)
    error_shape("429 rate_limited", requests.get(f"{BASE}/v1/sessions", headers=throttled),
                429, "rate_limited")

    # API 限制: 请求大小 10MB 最大请求体大小.
    big = json.dumps(dict(run, message="x" * (10 * 1024 * 1024)))
    r = requests.post(f"{BASE}/v1/agent/run", headers=dict(AUTH, **{"Content-Type": "application/json"}),
                      data=big)
    c.status("请求大小 10MB: a larger body", r, 413)
    c.has("请求大小 10MB: a larger body", r.json(), "error.code", lambda v: v == "payload_too_large",
          "payload_too_large")


# ---- 代码示例: Python and cURL -------------------------------------------------------------

# "### Python", verbatim.
PYTHON_EXAMPLE = """
import requests

BASE_URL = "http://localhost:18789"
HEADERS = {"Authorization": "Bearer your-token"}

# 发送消息
response = requests.post(
    f"{BASE_URL}/v1/agent/run",
    headers=HEADERS,
    json={
        "message": "Hello!",
        "sessionKey": "session-123"
    }
)

data = response.json()
print(data["response"])
"""

# "### cURL", verbatim: 发送消息, then 流式响应.
CURL_RUN = """
curl -X POST http://localhost:18789/v1/agent/run \\
  -H "Authorization: Bearer $TOKEN" \\
  -H "Content-Type: application/json" \\
  -d '{
    "message": "Hello!",
    "sessionKey": "session-123"
  }'
"""

CURL_STREAM = """
curl -X POST http://localhost:18789/v1/agent/run/stream \\
  -H "Authorization: Bearer $TOKEN" \\
  -H "Content-Type: application/json" \\
  -d '{
    "message": "Hello!",
    "sessionKey": "session-123"
  }'
"""


def examples():
    code = PYTHON_EXAMPLE.replace("http://localhost:18789", BASE).replace("your-token", KEY)
    out = io.StringIO()
    scope = {}
    with contextlib.redirect_stdout(out):
        c.run("Python example runs", lambda: exec(code, scope))
    c.check("Python example: prints data['response'], the model's answer",
            "Hello!" in out.getvalue(), out.getvalue())
    if isinstance(scope.get("data"), dict):
        agent_run_fields("Python example", scope["data"], "Hello!")

    # $TOKEN is the shell's: the key goes in the environment, the command is as written.
    replace, env = {"http://localhost:18789": BASE}, {"TOKEN": KEY}
    code, out, err = curl(CURL_RUN, replace, env)
    c.check("cURL 发送消息: exits 0", code == 0, err)
    try:
        agent_run_fields("cURL 发送消息", json.loads(out), "Hello!")
    except ValueError:
        c.check("cURL 发送消息: a JSON body", False, out)

    code, out, err = curl(CURL_STREAM, replace, env)
    c.check("cURL 流式响应: exits 0", code == 0, err)
    events = sse_events(out)
    deltas = [d for e, d in events if e == "delta"]
    c.check("cURL 流式响应: delta events, then done",
            deltas and events[-1][0] == "done" and events[-1][1].get("finishReason") == "stop", out)
    text = "".join(d.get("delta", "") for d in deltas if isinstance(d, dict))
    c.check("cURL 流式响应: the deltas make the model's answer", "Hello!" in text, text)


SECTIONS = {"status": status, "agent": agent, "sessions": sessions, "openai": openai,
            "errors": errors, "examples": examples}
SECTIONS[SECTION]()
c.finish(SECTION)
