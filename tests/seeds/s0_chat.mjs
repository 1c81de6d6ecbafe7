// Runs the script of S0's HTML chat page (s0_chat.html, next to this file) the way a browser
// would, with a minimal fake `document`: the elements with an `id` in the page's body, and
// `createElement`. Then the user types `node s0_chat.mjs TEXT`'s TEXT into #input and clicks the
// page's button (its `onclick` attribute is evaluated). Prints, as JSON, what the page shows:
// the chat's messages (class and text), what is left in the input box, and whether the chat
// scrolled to its end. Exits 1 if the page's script threw.
import { readFileSync } from 'node:fs';
import vm from 'node:vm';

const html = readFileSync(new URL('./s0_chat.html', import.meta.url), 'utf8');
const typed = process.argv[2];

class FakeElement {
  constructor(tagName, id = null) {
    this.tagName = tagName.toUpperCase();
    this.id = id;
    this.className = '';
    this.textContent = '';
    this.value = '';
    this.children = [];
    this.scrollTop = 0;
  }

  get scrollHeight() {
    return this.children.length * 40;
  }

  appendChild(child) {
    this.children.push(child);
    return child;
  }
}

const body = html.slice(html.indexOf('<body>'), html.indexOf('<script>'));
const elements = {};
for (const [, tag, id] of body.matchAll(/<(\w+)\s+id="([^"]+)"/g)) {
  elements[id] = new FakeElement(tag, id);
}
const document = {
  getElementById: (id) => elements[id] ?? null,
  createElement: (tag) => new FakeElement(tag),
};

const script = html.match(/<script>([\s\S]*?)<\/script>/)[1];
const onclick = body.match(/<button\s+onclick="([^"]+)"/)[1];
const context = vm.createContext({ document, fetch, console });
let error = null;
try {
  vm.runInContext(script, context, { filename: 's0_chat.html' });
  elements.input.value = typed;
  await vm.runInContext(onclick, context);
} catch (e) {
  error = String(e && e.stack ? e.stack : e);
}
const chat = elements.chat;
process.stdout.write(
  JSON.stringify({
    chat: chat.children.map((c) => ({ tag: c.tagName, className: c.className, text: c.textContent })),
    input: elements.input.value,
    scrolledToEnd: chat.scrollTop === chat.scrollHeight,
    error,
  }) + '\n',
);
process.exitCode = error ? 1 : 0;
