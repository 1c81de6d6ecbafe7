// Seed S0 (seeds/000_…, "OpenClaw API 集成指南"), "📤 消息 API › 流式响应", its JavaScript
// example, verbatim between the markers. s0.py's `javascript` section runs it with Node 20 (fetch
// is built in; top-level await needs a module, hence .mjs) after replacing only the host and
// YOUR_TOKEN.
// Not in the seed: what the example prints (`console.log(chunk)`) is collected, and printed at
// the end as one JSON line for s0.py, with the response's status.
const printed = [];
const print = console.log;
console.log = (...args) => printed.push(args.length === 1 ? args[0] : args);
// ---- seed ----
const response = await fetch('http://localhost:18789/api/v1/message/stream', {
  method: 'POST',
  headers: {
    'Authorization': 'Bearer YOUR_TOKEN',
    'Content-Type': 'application/json'
  },
  body: JSON.stringify({
    text: '写一首诗',
    session: 'default'
  })
});

const reader = response.body.getReader();
const decoder = new TextDecoder();

while (true) {
  const { done, value } = await reader.read();
  if (done) break;
  
  const chunk = decoder.decode(value);
  console.log(chunk);
}
// ---- end of seed ----
print(JSON.stringify({ status: response.status, contentType: response.headers.get('content-type'), printed }));
