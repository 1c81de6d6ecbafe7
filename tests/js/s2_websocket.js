// S2's WebSocket example, as the seed shows it (its Korean/Chinese comments translated). The
// test replaces only the URL and YOUR_TOKEN, as a user would, and runs it with Node's built-in
// WebSocket client.
const ws = new WebSocket('ws://127.0.0.1:18789/ws');

ws.onopen = () => {
// authenticate
ws.send(JSON.stringify({
type: 'auth',
token: 'YOUR_TOKEN'
}));
};

ws.onmessage = (event) => {
const data = JSON.parse(event.data);
switch (data.type) {
case 'auth_success':
// authenticated: start talking
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
