// Seed S0 (seeds/000_…, "OpenClaw API 集成指南"), "🔐 认证方式 › 使用 Token", its JavaScript
// example, verbatim between the markers. s0.py's `javascript` section runs it with Node 20 (fetch
// is built in; top-level await needs a module, hence .mjs) after replacing only the host and
// YOUR_TOKEN.
// ---- seed ----
// JavaScript 示例
const response = await fetch('http://localhost:18789/api/v1/status', {
  headers: {
    'Authorization': 'Bearer YOUR_TOKEN'
  }
});
// ---- end of seed ----
// Not in the seed: what its reader looks at next, printed for s0.py.
console.log(JSON.stringify({ status: response.status, body: await response.json() }));
