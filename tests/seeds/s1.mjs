// Seed S1 (seeds/001_…), §6 "JavaScript客户端示例", verbatim. tests/tests/api/seed_s1.rs runs it
// with Node 20 (fetch is built in; top-level await needs a module, hence .mjs) after replacing
// only the host, the token and the example's task id (task_12345) with a task it created.
// 获取任务状态
const response = await fetch('https://api.openclaw.com/v1/tasks/task_12345', {
method: 'GET',
headers: {
'Authorization': 'Bearer YOUR_API_TOKEN',
'Content-Type': 'application/json'
}
});
const task = await response.json();
console.log(`任务状态: ${task.status}`);
