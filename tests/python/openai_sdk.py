"""Drives OpenClaw's OpenAI-compatible API with the official OpenAI Python SDK, unchanged.

Usage: openai_sdk.py BASE_URL API_KEY SCENARIO [EXPECT_JSON]

BASE_URL is the API's `/v1`. The caller (tests/tests/api/openai.rs) scripts the upstream
mock-llm before each scenario and passes what it scripted as EXPECT_JSON:

  plain   a completion answered by mock-llm's default echo ("mock: <prompt>"); the model list;
          an unknown model surfacing as the SDK's BadRequestError naming `model`
  stream  {"text": …}: streamed with include_usage, deltas concatenate to `text`, the last
          chunk carries the usage
  tools   {"name": …, "arguments": {…}}: the model calls the tool; the SDK's assistant message
          and a tool result are sent back, and the model answers

Exits 0 when everything matches, 1 with a message naming the mismatch otherwise.
"""

import json
import sys

import openai

MODEL = "openai/mock-1"


class Mismatch(Exception):
    pass


def check(what, got, want):
    if got != want:
        raise Mismatch(f"{what}: expected {want!r}, got {got!r}")


def plain(client, _expect):
    prompt = "hello from the official SDK"
    resp = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": prompt}]
    )
    check("object", resp.object, "chat.completion")
    if not resp.id.startswith("chatcmpl-"):
        raise Mismatch(f"id: expected chatcmpl-…, got {resp.id!r}")
    check("model", resp.model, MODEL)
    check("choices[0].message.role", resp.choices[0].message.role, "assistant")
    check("choices[0].message.content", resp.choices[0].message.content, f"mock: {prompt}")
    check("choices[0].finish_reason", resp.choices[0].finish_reason, "stop")
    if not resp.usage or resp.usage.total_tokens <= 0:
        raise Mismatch(f"usage.total_tokens: expected > 0, got {resp.usage!r}")
    check(
        "usage.total_tokens",
        resp.usage.total_tokens,
        resp.usage.prompt_tokens + resp.usage.completion_tokens,
    )

    ids = [m.id for m in client.models.list()]
    for want in ("builtin/echo", MODEL):
        if want not in ids:
            raise Mismatch(f"models.list(): {want!r} missing from {ids!r}")
    check("models.retrieve().id", client.models.retrieve(MODEL).id, MODEL)

    try:
        client.chat.completions.create(
            model="nosuch/model", messages=[{"role": "user", "content": "hi"}]
        )
    except openai.BadRequestError as e:
        check("error status", e.status_code, 400)
        check("error param", e.param, "model")
        check("error code", e.code, "invalid_request")
    else:
        raise Mismatch("an unknown model was not a BadRequestError")


def stream(client, expect):
    chunks = list(
        client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "stream something"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    if not chunks:
        raise Mismatch("the stream had no chunks")
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    check("concatenated deltas", text, expect["text"])
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    check("finish reasons", finishes, ["stop"])
    last = chunks[-1]
    check("last chunk's choices", last.choices, [])
    if not last.usage or last.usage.total_tokens <= 0:
        raise Mismatch(f"last chunk's usage: expected total_tokens > 0, got {last.usage!r}")
    check("one id for the whole stream", {c.id for c in chunks}, {chunks[0].id})


def tools(client, expect):
    prompt = "What is the weather in Paris?"
    weather = {
        "type": "function",
        "function": {
            "name": expect["name"],
            "description": "Current weather for a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                "required": ["city"],
            },
        },
    }
    messages = [{"role": "user", "content": prompt}]
    resp = client.chat.completions.create(model=MODEL, messages=messages, tools=[weather])
    choice = resp.choices[0]
    check("choices[0].finish_reason", choice.finish_reason, "tool_calls")
    check("choices[0].message.content", choice.message.content, None)
    calls = choice.message.tool_calls or []
    check("number of tool calls", len(calls), 1)
    check("tool_calls[0].type", calls[0].type, "function")
    check("tool_calls[0].function.name", calls[0].function.name, expect["name"])
    check(
        "json.loads(tool_calls[0].function.arguments)",
        json.loads(calls[0].function.arguments),
        expect["arguments"],
    )

    # The usual loop: the SDK's own message object goes back, followed by the tool's result.
    messages.append(choice.message)
    messages.append({"role": "tool", "tool_call_id": calls[0].id, "content": "sunny, 21 °C"})
    resp = client.chat.completions.create(model=MODEL, messages=messages, tools=[weather])
    check("after the tool: finish_reason", resp.choices[0].finish_reason, "stop")
    check("after the tool: content", resp.choices[0].message.content, f"mock: {prompt}")


SCENARIOS = {"plain": plain, "stream": stream, "tools": tools}


def main(argv):
    if len(argv) not in (4, 5) or argv[3] not in SCENARIOS:
        print(__doc__, file=sys.stderr)
        return 2
    base_url, api_key, scenario = argv[1:4]
    expect = json.loads(argv[4]) if len(argv) == 5 else {}
    client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=30)
    try:
        SCENARIOS[scenario](client, expect)
    except Mismatch as e:
        print(f"{scenario}: MISMATCH: {e}", file=sys.stderr)
        return 1
    except openai.APIError as e:
        print(f"{scenario}: the SDK raised {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(f"{scenario}: ok (openai {openai.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
