"""Seed S0 (seeds/000_…, "OpenClaw API 集成指南"): its examples replayed against OpenClaw.

Usage: s0.py BASE_URL API_KEY SECTION   (run by tests/tests/api/seed_s0.rs through
tests/python/run.sh). BASE_URL is the server's root; the seed's host `http://localhost:18789`
becomes BASE_URL and its `YOUR_TOKEN` the key: nothing else in a snippet is changed. Other
inputs, by environment: OPENCLAW_MOCK_URL (the mock model provider, whose `POST /_mock/scripts`
queues its next answers); for `cli`: OPENCLAW_BIN (the `openclaw` binary), DATABASE_URL and
OPENCLAW_JWT_SECRET (the server's); for `errors`: OPENCLAW_KEY_NO_MESSAGES (a key without the
`messages` scope) and OPENCLAW_KEY_THROTTLED (a key of a tenant whose burst is 1).

Sections:
  curl        every curl block: 快速示例, 使用 Token, 完整示例, cURL 示例集合 (run by bash and curl).
  cli         获取 Token: `openclaw config get gateway.auth.token`, `openclaw auth generate-token`,
              then 使用 Token's curl with each credential they print.
  javascript  使用 Token's and 流式响应's JavaScript examples (Node).
  html        HTML 聊天界面: the page's script in Node with a fake `document`.
  endpoints   the request and response examples of 消息, 流式响应, 会话, 记忆, 技能 and 状态 API.
  errors      API 错误码: 400, 401, 403, 404 and 429, in S0's `success: false` envelope.

Not replayed (later issues, see tests/tests/api/seed_s0.rs): the SDKs (`npm install
openclaw-sdk`, `require('openclaw-sdk')`, `pip install openclaw-sdk`, `from openclaw import
OpenClaw`, 错误处理's `client.message.send`), 配置 API (`/api/v1/config/gateway`), and Token 管理
(`process.env.OPENCLAW_TOKEN` vs `'sk-123456'`: advice, not a call; it declares `token` twice).

Prints `seed s0 SECTION: ok (…)` and exits 0 when the section behaves as the seed shows.
"""

import json
import os
import re
import sys

import requests

from seedreplay import (
    MISSING,
    Checks,
    Mock,
    Reply,
    at,
    bash,
    is_int,
    is_number,
    is_rfc3339,
    is_text,
    node,
    sse_events,
)

BASE, KEY, SECTION = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]
MOCK = Mock(os.environ.get("OPENCLAW_MOCK_URL", ""))
HOST = "http://localhost:18789"
REPLACE = {HOST: BASE, "YOUR_TOKEN": KEY}

# Checks the server does not pass yet: name → the example, what the seed expects, what the
# server answers. Remove an entry once the server is fixed (the run then fails until you do).
KNOWN_GAP = {}

c = Checks("s0", KNOWN_GAP)

# ---------------------------------------------------------------------------------------------
# The seed's snippets, verbatim. Raw strings: the shell's line continuations stay as they are.

# "🌐 API 概览 › 快速示例".
QUICK = r"""# 发送消息
curl -X POST http://localhost:18789/api/v1/message \
  -H "Authorization: Bearer YOUR_TOKEN" \
  -H "Content-Type: application/json" \
  -d '{
    "text": "你好",
    "session": "default"
  }'"""

# "🔐 认证方式 › 获取 Token".
GET_TOKEN = r"""# 查看当前 Token
openclaw config get gateway.auth.token

# 生成新 Token
openclaw auth generate-token"""

# "🔐 认证方式 › 使用 Token" (its JavaScript example is s0_status.mjs).
USE_TOKEN = r"""# 在请求头中携带 Token
curl -H "Authorization: Bearer YOUR_TOKEN" \
  http://localhost:18789/api/v1/status"""

# "📤 消息 API › 发送消息", 完整示例.
COMPLETE = r"""curl -X POST http://localhost:18789/api/v1/message \
  -H "Authorization: Bearer YOUR_TOKEN" \
  -H "Content-Type: application/json" \
  -d '{
    "text": "你好",
    "session": "default"
  }'"""

# "💻 SDK 使用 › cURL 示例集合".
COLLECTION = r"""# 1. 发送消息
curl -X POST http://localhost:18789/api/v1/message \
  -H "Authorization: Bearer YOUR_TOKEN" \
  -H "Content-Type: application/json" \
  -d '{"text": "你好", "session": "default"}'

# 2. 流式响应
curl -X POST http://localhost:18789/api/v1/message/stream \
  -H "Authorization: Bearer YOUR_TOKEN" \
  -H "Content-Type: application/json" \
  -d '{"text": "写一首诗"}'

# 3. 列出会话
curl http://localhost:18789/api/v1/sessions \
  -H "Authorization: Bearer YOUR_TOKEN"

# 4. 搜索记忆
curl "http://localhost:18789/api/v1/memory/search?query=配置" \
  -H "Authorization: Bearer YOUR_TOKEN"

# 5. 获取状态
curl http://localhost:18789/api/v1/status \
  -H "Authorization: Bearer YOUR_TOKEN"
"""

# "📤 消息 API › 发送消息", 请求参数.
MESSAGE_REQUEST = """{
  "text": "你好,请介绍一下自己",
  "session": "default",
  "stream": false,
  "model": "qwen3.5-plus"
}"""

# "📤 消息 API › 流式响应", 请求参数.
STREAM_REQUEST = """{
  "text": "写一首诗",
  "session": "default",
  "stream": true
}"""

# "📥 会话 API › 创建会话", 请求参数.
SESSION_REQUEST = """{
  "label": "项目讨论",
  "model": "qwen3.5-plus"
}"""

# "🧠 记忆 API › 搜索记忆", 请求参数 (a JSON body on a GET, as the seed shows it).
MEMORY_SEARCH_REQUEST = """{
  "query": "OpenClaw 配置",
  "limit": 5,
  "minScore": 0.7
}"""

# "🧠 记忆 API › 添加记忆", 请求参数.
MEMORY_ADD_REQUEST = """{
  "content": "用户偏好简洁的回复风格",
  "tags": ["用户偏好", "风格"],
  "type": "long-term"
}"""

# "🛠️ 技能 API › 执行技能", 请求参数 (for `POST /api/v1/skills/weather/execute`).
SKILL_REQUEST = """{
  "args": ["北京"],
  "session": "default"
}"""

# What the model answers, taken from the seed's response examples: 发送消息's `data.text` and
# `usage`, and 流式响应's five chunks.
REPLY = "你好!我是泡泡龙..."
REPLY_USAGE = {"input_tokens": 20, "output_tokens": 100}
POEM = ["春", "眠", "不", "觉", "晓"]
# A memory for 搜索记忆 to find, as its response example shows one (`content`, `source`).
MEMORY = "OpenClaw 配置文件位于 ~/.openclaw/config.yaml"

# ---------------------------------------------------------------------------------------------


def api(method, path, body=None, key=KEY, raw=None):
    """A request the seed describes without a command line: `raw` is sent as the seed writes
    its JSON; `body` is JSON this script makes (setup)."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    data = raw.encode() if raw is not None else (
        json.dumps(body, ensure_ascii=False).encode() if body is not None else None
    )
    return Reply.of(requests.request(method, BASE + path, headers=headers, data=data, timeout=60))


def next_reply():
    MOCK.next(text=REPLY, usage=REPLY_USAGE)


def next_poem():
    MOCK.next(text="".join(POEM), chunks=len(POEM))


def curl(name, block, replies, replace=REPLACE, env=None):
    """Runs a block; checks that it ran and made `replies` transfers."""
    ran = bash(block, replace, env)
    c.check(f"{name}: runs", ran.code == 0 and len(ran.replies) == replies, repr(ran))
    return ran.replies + [Reply(0, {}, "")] * (replies - len(ran.replies))


def check_message(name, reply, text=REPLY, usage=REPLY_USAGE):
    """发送消息's response example: `{"success":true,"data":{messageId,text,usage{…}}}`."""
    c.status(name, reply, 200)
    body = reply.json()
    c.eq(f"{name}: success", at(body, "success"), True)
    c.has(name, body, "data.messageId", lambda v: is_text(v) and v.startswith("msg_"), "msg_…")
    c.eq(f"{name}: data.text", at(body, "data.text"), text)
    c.eq(f"{name}: data.usage.inputTokens", at(body, "data.usage.inputTokens"), usage["input_tokens"])
    c.eq(
        f"{name}: data.usage.outputTokens",
        at(body, "data.usage.outputTokens"),
        usage["output_tokens"],
    )


def check_stream(name, text, content_type):
    """流式响应's response example: `data: {"chunk": "春"}` … `data: [DONE]`."""
    c.check(
        f"{name}: Content-Type text/event-stream",
        (content_type or "").startswith("text/event-stream"),
        content_type,
    )
    c.eq(f"{name}: data lines", sse_events(text), [{"chunk": ch} for ch in POEM] + ["[DONE]"])


def check_status(name, body):
    """获取系统状态's response example."""
    c.eq(f"{name}: success", at(body, "success"), True)
    c.eq(f"{name}: data.gateway.status", at(body, "data.gateway.status"), "running")
    c.has(name, body, "data.gateway.version", is_text, "a version")
    c.has(name, body, "data.gateway.uptime", lambda v: is_int(v) and v >= 0, "seconds")
    c.has(name, body, "data.models.available", lambda v: is_int(v) and v >= 1, "a count ≥ 1")
    c.has(name, body, "data.models.default", is_text, "a model")
    c.has(name, body, "data.sessions.active", is_int, "a count")
    c.has(name, body, "data.sessions.total", is_int, "a count")


def check_error(name, reply, status, code):
    """API 错误码: the status, in S0's envelope (`success: false`) with S2's flat fields."""
    c.status(name, reply, status)
    body = reply.json()
    c.eq(f"{name}: success", at(body, "success"), False)
    c.eq(f"{name}: error", at(body, "error"), code)
    c.eq(f"{name}: status", at(body, "status"), status)
    c.has(name, body, "message", is_text, "a message")


def session(key, sid):
    """A session as `GET /api/v1/sessions` lists it (S0's shape), or MISSING."""
    listed = api("GET", "/api/v1/sessions", key=key).json()
    for s in at(listed, "data.sessions") or []:
        if s.get("id") == sid:
            return s
    return MISSING


def check_default_session(name, messages):
    """`"session": "default"` is one session, created on first use, holding the exchange."""
    s = session(KEY, "default")
    c.check(f"{name}: session `default` listed", s is not MISSING, s)
    c.eq(f"{name}: session `default` messageCount", at(s, "messageCount"), messages)


# ---------------------------------------------------------------------------------------------


def section_curl():
    next_reply()
    [r] = curl("快速示例", QUICK, 1)
    check_message("快速示例", r)

    [r] = curl("使用 Token", USE_TOKEN, 1)
    c.status("使用 Token", r, 200)
    check_status("使用 Token", r.json())

    next_reply()
    [r] = curl("完整示例", COMPLETE, 1)
    check_message("完整示例", r)

    # For 4. 搜索记忆 to find something (setup, not in the seed).
    added = api("POST", "/api/v1/memory", {"content": MEMORY, "source": "MEMORY.md"})
    c.status("setup: a memory", added, (200, 201))
    next_reply()
    next_poem()
    send, stream, sessions, search, status = curl("cURL 示例集合", COLLECTION, 5)
    check_message("cURL 示例集合 1. 发送消息", send)
    c.status("cURL 示例集合 2. 流式响应", stream, 200)
    check_stream("cURL 示例集合 2. 流式响应", stream.body, stream.header("content-type"))

    name = "cURL 示例集合 3. 列出会话"
    c.status(name, sessions, 200)
    body = sessions.json()
    c.eq(f"{name}: success", at(body, "success"), True)
    listed = c.has(name, body, "data.sessions", lambda v: isinstance(v, list), "a list")
    listed = listed if listed is not MISSING else []
    default = next((s for s in listed if s.get("id") == "default"), MISSING)
    c.check(f"{name}: session `default` listed", default is not MISSING, body)
    # Three exchanges of two messages in `default` so far: 快速示例, 完整示例 and 1. 发送消息.
    c.eq(f"{name}: default messageCount", at(default, "messageCount"), 6)
    c.has(name, default, "createdAt", is_rfc3339, "an RFC 3339 time")
    c.has(name, default, "label", is_text, "a label, as the seed's 默认会话")
    # 2. 流式响应 names no session: it has one of its own.
    c.eq(f"{name}: sessions", len(listed), 2)

    name = "cURL 示例集合 4. 搜索记忆"
    c.status(name, search, 200)
    body = search.json()
    c.eq(f"{name}: success", at(body, "success"), True)
    c.has(name, body, "data.results", lambda v: isinstance(v, list) and len(v) == 1, "one result")
    c.eq(f"{name}: data.results[0].content", at(body, "data.results[0].content"), MEMORY)
    c.has(name, body, "data.results[0].score", lambda v: is_number(v) and 0 < v <= 1, "0 < score ≤ 1")
    c.eq(f"{name}: data.results[0].source", at(body, "data.results[0].source"), "MEMORY.md")

    name = "cURL 示例集合 5. 获取状态"
    c.status(name, status, 200)
    check_status(name, status.json())
    total = at(status.json(), "data.sessions.total")
    c.eq(f"{name}: data.sessions.total is the sessions listed", total, len(listed))


def section_cli():
    env = {
        "PATH": os.path.dirname(os.environ["OPENCLAW_BIN"]) + os.pathsep + os.environ["PATH"],
        "RUST_LOG": "warn",
    }
    ran = bash(GET_TOKEN, {}, env)
    c.check("获取 Token: runs", ran.code == 0, repr(ran))
    lines = ran.stdout.splitlines()
    key = lines[0].strip() if lines else ""
    c.check(
        "获取 Token: `openclaw config get gateway.auth.token` prints an API key",
        re.fullmatch(r"oc_api_sk_[0-9A-Za-z]{38}", key),
        ran.stdout,
    )
    try:
        minted = json.loads("\n".join(lines[1:]))
    except ValueError:
        minted = MISSING
    token = c.has("获取 Token: `openclaw auth generate-token`", minted, "token", is_text, "a token")
    c.has("获取 Token: `openclaw auth generate-token`", minted, "expires_at", is_rfc3339, "a time")
    for what, credential in (("the key", key), ("the token", token)):
        if credential is MISSING or not credential:
            continue
        [r] = curl(f"使用 Token with {what}", USE_TOKEN, 1, {HOST: BASE, "YOUR_TOKEN": credential})
        c.status(f"使用 Token with {what}", r, 200)
        check_status(f"使用 Token with {what}", r.json())


def section_javascript():
    code, out, err = node(["s0_status.mjs"], "s0_status.mjs", REPLACE)
    name = "使用 Token (JavaScript)"
    c.check(f"{name}: runs", code == 0, err)
    report = json.loads(out) if code == 0 else {}
    c.eq(f"{name}: response.status", report.get("status"), 200)
    check_status(name, report.get("body"))

    next_poem()
    code, out, err = node(["s0_stream.mjs"], "s0_stream.mjs", REPLACE)
    name = "流式响应 (JavaScript)"
    c.check(f"{name}: runs", code == 0, err)
    report = json.loads(out) if code == 0 else {}
    c.eq(f"{name}: response.status", report.get("status"), 200)
    printed = report.get("printed") or []
    c.check(f"{name}: prints text", printed and all(isinstance(p, str) for p in printed), printed)
    check_stream(name, "".join(p for p in printed if isinstance(p, str)), report.get("contentType"))
    check_default_session(name, 2)


def section_html():
    next_reply()
    code, out, err = node(["s0_chat.html", "s0_chat.mjs"], "s0_chat.mjs", REPLACE, ["你好"])
    name = "HTML 聊天界面"
    c.check(f"{name}: runs", code == 0 and out, f"exit {code}: {out} {err}")
    page = json.loads(out) if out else {}
    c.eq(f"{name}: error", page.get("error"), None)
    c.eq(
        f"{name}: the chat shows the user's message, then data.data.text",
        page.get("chat"),
        [
            {"tag": "DIV", "className": "message user", "text": "你好"},
            {"tag": "DIV", "className": "message ai", "text": REPLY},
        ],
    )
    c.eq(f"{name}: the input is cleared", page.get("input"), "")
    c.eq(f"{name}: the chat scrolled to its end", page.get("scrolledToEnd"), True)
    c.eq(f"{name}: the model was asked", MOCK.last_user_text(), "你好")
    check_default_session(name, 2)


def section_endpoints():
    name = "发送消息"
    next_reply()
    check_message(name, api("POST", "/api/v1/message", raw=MESSAGE_REQUEST))
    c.eq(f"{name}: model qwen3.5-plus asked", at(MOCK.last_request(), "model"), "qwen3.5-plus")

    name = "流式响应"
    next_poem()
    r = api("POST", "/api/v1/message/stream", raw=STREAM_REQUEST)
    c.status(name, r, 200)
    check_stream(name, r.body, r.header("content-type"))
    check_default_session(name, 4)

    name = "创建会话"
    r = api("POST", "/api/v1/sessions", raw=SESSION_REQUEST)
    c.status(name, r, (200, 201))
    body = r.json()
    c.eq(f"{name}: success", at(body, "success"), True)
    sid = c.has(name, body, "data.sessionId", lambda v: is_text(v) and v.startswith("session_"), "session_…")
    c.eq(f"{name}: data.label", at(body, "data.label"), "项目讨论")
    c.has(name, body, "data.createdAt", is_rfc3339, "an RFC 3339 time")

    name = "列出会话"
    r = api("GET", "/api/v1/sessions")
    c.status(name, r, 200)
    body = r.json()
    c.eq(f"{name}: success", at(body, "success"), True)
    listed = {s.get("id"): s for s in at(body, "data.sessions") or []}
    c.eq(f"{name}: ids", sorted(listed), sorted(["default", sid]))
    for s in listed.values():
        c.has(f"{name} {s.get('id')}", s, "createdAt", is_rfc3339, "an RFC 3339 time")
        c.has(f"{name} {s.get('id')}", s, "messageCount", is_int, "a count")
    c.eq(f"{name}: {sid} label", at(listed.get(sid, {}), "label"), "项目讨论")
    c.eq(f"{name}: {sid} messageCount", at(listed.get(sid, {}), "messageCount"), 0)
    c.has(f"{name} default", listed.get("default", {}), "label", is_text, "a label, as the seed's 默认会话")

    name = "删除会话"
    r = api("DELETE", f"/api/v1/sessions/{sid}")
    c.status(name, r, 200)
    c.eq(f"{name}: body", r.json(), {"success": True, "data": {"deleted": True}})
    c.check(f"{name}: gone", session(KEY, sid) is MISSING, sid)

    name = "添加记忆"
    r = api("POST", "/api/v1/memory", raw=MEMORY_ADD_REQUEST)
    c.status(name, r, (200, 201))
    body = r.json()
    c.eq(f"{name}: success", at(body, "success"), True)
    c.has(name, body, "data.memoryId", lambda v: is_text(v) and v.startswith("mem_"), "mem_…")
    c.has(name, body, "data.createdAt", is_rfc3339, "an RFC 3339 time")

    name = "搜索记忆"
    # What the response example finds (setup, not in the seed).
    added = api("POST", "/api/v1/memory", {"content": MEMORY, "source": "MEMORY.md"})
    c.status("setup: a memory", added, (200, 201))
    r = api("GET", "/api/v1/memory/search", raw=MEMORY_SEARCH_REQUEST)
    c.status(name, r, 200)
    body = r.json()
    c.eq(f"{name}: success", at(body, "success"), True)
    results = at(body, "data.results")
    c.check(f"{name}: data.results", isinstance(results, list) and len(results) == 1, body)
    c.eq(f"{name}: data.results[0].content", at(body, "data.results[0].content"), MEMORY)
    c.has(
        name,
        body,
        "data.results[0].score",
        lambda v: is_number(v) and 0.7 <= v <= 1,
        "0.7 ≤ score ≤ 1 (minScore)",
    )
    c.eq(f"{name}: data.results[0].source", at(body, "data.results[0].source"), "MEMORY.md")

    name = "列出技能"
    r = api("GET", "/api/v1/skills")
    c.status(name, r, 200)
    body = r.json()
    c.eq(f"{name}: success", at(body, "success"), True)
    skills = at(body, "data.skills")
    c.check(f"{name}: data.skills", isinstance(skills, list), body)
    weather = next((s for s in skills or [] if s.get("name") == "weather"), MISSING)
    c.check(f"{name}: weather listed on a new tenant", weather is not MISSING, body)
    c.has(f"{name} weather", weather, "description", is_text, "a description")
    c.eq(f"{name} weather: enabled", at(weather, "enabled"), True)
    c.has(f"{name} weather", weather, "version", lambda v: re.fullmatch(r"\d+\.\d+\.\d+", str(v)), "x.y.z")

    name = "执行技能"
    r = api("POST", "/api/v1/skills/weather/execute", raw=SKILL_REQUEST)
    c.status(name, r, 200)
    body = r.json()
    c.eq(f"{name}: success", at(body, "success"), True)
    # The fake forecast says: clear, 20 to 28 °C (the seed's "北京今天晴,温度 20-28°C").
    c.has(
        name,
        body,
        "data.result",
        lambda v: isinstance(v, str) and "北京" in v and "20" in v and "28" in v,
        "a sentence about 北京's 20–28 °C, as the seed's 北京今天晴,温度 20-28°C",
    )
    c.has(name, body, "data.executionTime", lambda v: is_number(v) and v >= 0, "seconds")

    name = "获取系统状态"
    r = api("GET", "/api/v1/status")
    c.status(name, r, 200)
    check_status(name, r.json())
    # `default`; the session 创建会话 made was deleted.
    c.eq(f"{name}: data.sessions.total", at(r.json(), "data.sessions.total"), 1)


def section_errors():
    # 401 认证失败: 使用 Token's curl as it stands, YOUR_TOKEN not replaced.
    [r] = curl("401 (YOUR_TOKEN as is)", USE_TOKEN, 1, {HOST: BASE})
    check_error("401 (YOUR_TOKEN as is)", r, 401, "unauthorized")
    # 403 权限不足: 完整示例 with a key that may not send messages.
    no_messages = os.environ["OPENCLAW_KEY_NO_MESSAGES"]
    [r] = curl("403 (完整示例, no messages scope)", COMPLETE, 1, {HOST: BASE, "YOUR_TOKEN": no_messages})
    check_error("403 (完整示例, no messages scope)", r, 403, "forbidden")
    # 404 资源不存在: 删除会话 of a session that is not there.
    check_error("404 (删除会话)", api("DELETE", "/api/v1/sessions/no-such-session"), 404, "not_found")
    # 400 请求参数错误: 发送消息 whose text is not text.
    r = api("POST", "/api/v1/message", raw='{"text": 42, "session": "default"}')
    check_error("400 (发送消息)", r, 400, "invalid_request")
    c.eq("400 (发送消息): param", at(r.json(), "param"), "text")
    # 429 请求过于频繁: 使用 Token twice with a key whose tenant may make one request at once.
    throttled = {HOST: BASE, "YOUR_TOKEN": os.environ["OPENCLAW_KEY_THROTTLED"]}
    first, second = curl("429 (使用 Token twice)", USE_TOKEN + "\n" + USE_TOKEN, 2, throttled)
    c.status("429 (使用 Token twice): first", first, 200)
    check_error("429 (使用 Token twice): second", second, 429, "rate_limited")


SECTIONS = {
    "curl": section_curl,
    "cli": section_cli,
    "javascript": section_javascript,
    "html": section_html,
    "endpoints": section_endpoints,
    "errors": section_errors,
}

c.run(SECTION, SECTIONS[SECTION])
c.finish(SECTION)
