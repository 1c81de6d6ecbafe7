// Seed S2 (seeds/002_…, "API 參考"), "WebSocket API", verbatim between the markers (its
// comments as the seed has them). s2.py's `websocket` section runs it with Node 20's built-in WebSocket client
// (`--experimental-websocket`) after replacing only the URL and YOUR_TOKEN.
// ---- seed ----
const ws = new WebSocket('ws://127.0.0.1:18789/ws');

ws.onopen = () => {
// 인증
ws.send(JSON.stringify({
type: 'auth',
token: 'YOUR_TOKEN'
}));
};

ws.onmessage = (event) => {
const data = JSON.parse(event.data);
switch (data.type) {
case 'auth_success':
// 인증成功,可以開始互動
ws.send(JSON.stringify({
type: 'message',
channel: 'api',
content: '你好'
}));
break;
case 'response':
console.log(data.content);
break;
case 'error':
console.error(data.message);
break;
}
};
// ---- end of seed ----
