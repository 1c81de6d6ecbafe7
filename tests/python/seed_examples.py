"""Runs the seeds' task and agent examples against OpenClaw, as their authors wrote them.

Usage: seed_examples.py BASE_URL API_KEY

BASE_URL is the server's root (e.g. http://127.0.0.1:18789). The S1 Python example is executed
verbatim with only its host and token replaced; S1's JavaScript status check and S3's
`wait_for_completion()` are written the way those clients would do it over HTTP (S3's SDK
itself is not published), S3's spawn sending its JSON as curl's `-d` does.

Exits 0 and prints "seeds: ok" when every example behaves as the seeds describe.
"""

import json
import sys
import time

import requests

BASE, KEY = sys.argv[1].rstrip("/"), sys.argv[2]

# S1 (seeds/001, "Python客户端示例"), verbatim.
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


def fail(msg):
    print(f"seeds: {msg}")
    sys.exit(1)


def s1():
    scope = {}
    code = S1_PYTHON.replace("https://api.openclaw.com", BASE).replace("YOUR_API_TOKEN", KEY)
    exec(code, scope)
    task_id = scope["task_id"]
    if not task_id.startswith("task_"):
        fail(f"S1 task id {task_id!r}")
    # S1's JavaScript example: GET /v1/tasks/{id}, read `status`; a client polls until it ends.
    deadline = time.time() + 30
    while True:
        task = requests.get(
            f"{BASE}/v1/tasks/{task_id}",
            headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
        ).json()
        print(f"任务状态: {task['status']}")
        if task["status"] in ("completed", "failed", "cancelled"):
            break
        if time.time() > deadline:
            fail(f"S1 task still {task['status']}")
        time.sleep(0.2)
    if task["status"] != "completed" or "data.csv" not in task["result"]["content"]:
        fail(f"S1 task ended as {json.dumps(task, ensure_ascii=False)}")


class Agent:
    """What S3's `client.agents.spawn(...)` returns, over the documented HTTP API."""

    def __init__(self, body):
        self.id = body["id"]

    def wait_for_completion(self, poll_seconds=30):
        while True:
            agent = requests.get(
                f"{BASE}/api/v1/agents/{self.id}",
                params={"wait": poll_seconds},
                headers={"Authorization": f"Bearer {KEY}"},
            ).json()
            if agent["status"] in ("completed", "failed", "cancelled"):
                return agent


def s3():
    # S3's curl: `-X POST …/api/v1/agents/spawn -H "Authorization: …" -d '{…}'`.
    resp = requests.post(
        f"{BASE}/api/v1/agents/spawn",
        headers={
            "Authorization": f"Bearer {KEY}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
        data=json.dumps(
            {"task": "分析数据", "model": "gpt-4o", "timeout": 300,
             "skills": ["web_fetch", "file_read"]},
            ensure_ascii=False,
        ).encode(),
    )
    if resp.status_code != 201:
        fail(f"S3 spawn answered {resp.status_code}: {resp.text}")
    result = Agent(resp.json()).wait_for_completion()
    if result["status"] != "completed" or "分析数据" not in result["result"]["content"]:
        fail(f"S3 agent ended as {json.dumps(result, ensure_ascii=False)}")


s1()
s3()
print("seeds: ok")
