// Runs the in-app snippet against a minimal fake DOM under Node and prints what it did as JSON.
//
// Usage: node dom_harness.js <snippet.js> <messages.json>
// Any use of innerHTML, outerHTML, insertAdjacentHTML, document.write or eval is recorded as a
// violation: message content must only ever reach the page as text.
"use strict";

const fs = require("fs");
const vm = require("vm");

const snippet = fs.readFileSync(process.argv[2], "utf8");
const scenario = JSON.parse(fs.readFileSync(process.argv[3], "utf8"));
const violations = [];
const fetches = [];
const assigned = [];
const streams = [];

class FakeElement {
  constructor(tag) {
    this.tagName = tag.toUpperCase();
    this.children = [];
    this.attributes = {};
    this.listeners = {};
    this.parentNode = null;
    this.ownText = "";
    this.className = "";
    this.id = "";
  }
  appendChild(child) { child.parentNode = this; this.children.push(child); return child; }
  removeChild(child) { this.children = this.children.filter((c) => c !== child); child.parentNode = null; return child; }
  setAttribute(name, value) { this.attributes[name] = String(value); }
  addEventListener(type, listener) { (this.listeners[type] = this.listeners[type] || []).push(listener); }
  removeEventListener(type, listener) {
    this.listeners[type] = (this.listeners[type] || []).filter((l) => l !== listener);
  }
  fire(type, event) { (this.listeners[type] || []).slice().forEach((l) => l(event || {type})); }
  set textContent(value) { this.ownText = String(value); this.children = []; }
  get textContent() { return this.ownText + this.children.map((c) => c.textContent).join(""); }
  describe() {
    return {tag: this.tagName, className: this.className, id: this.id, attributes: this.attributes,
            text: this.ownText, children: this.children.map((c) => c.describe())};
  }
}
for (const name of ["innerHTML", "outerHTML"]) {
  Object.defineProperty(FakeElement.prototype, name, {
    set() { violations.push(name); }, get() { violations.push(name); return ""; }});
}
FakeElement.prototype.insertAdjacentHTML = function () { violations.push("insertAdjacentHTML"); };

const documentElement = new FakeElement("html");
const head = documentElement.appendChild(new FakeElement("head"));
const body = documentElement.appendChild(new FakeElement("body"));
const documentListeners = new FakeElement("#document");
function find(node, id) {
  if (node.id === id) return node;
  for (const child of node.children) { const hit = find(child, id); if (hit) return hit; }
  return null;
}
const document = {
  documentElement, head, body,
  createElement: (tag) => new FakeElement(tag),
  getElementById: (id) => find(documentElement, id),
  addEventListener: (type, listener) => documentListeners.addEventListener(type, listener),
  removeEventListener: (type, listener) => documentListeners.removeEventListener(type, listener),
  write: () => violations.push("document.write"),
};

class FakeEventSource {
  constructor(url) { this.url = url; this.closed = false; this.onmessage = null; streams.push(this); }
  close() { this.closed = true; }
}

const window = {
  document, URL, URLSearchParams, JSON, Date, Array, Object, String, Error, Promise,
  location: {href: "https://shop.example/cart", assign: (url) => assigned.push(url)},
  EventSource: FakeEventSource,
  eval: () => violations.push("eval"),
  fetch: (url, options) => {
    const call = {url, method: (options && options.method) || "GET", options: options || {}};
    fetches.push(call);
    const answer = call.method === "GET" ? {messages: scenario.due} : {state: "ok"};
    return Promise.resolve({ok: true, json: () => Promise.resolve(answer)});
  },
};
window.window = window;

function tree() { return body.describe(); }
function byClass(node, name) {
  const found = [];
  (function walk(n) {
    if (n.className.split(" ").includes("loopline-in-app-" + name)) found.push(n);
    n.children.forEach(walk);
  })(node);
  return found;
}
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

(async () => {
  vm.runInNewContext(snippet, window);
  const inApp = window.Loopline.inApp.start(scenario.config);
  await inApp.ready;
  await settle();
  const steps = [];
  const snapshot = (label) => steps.push({label, tree: tree(), fetches: fetches.length});
  snapshot("loaded");
  // The live stream brings a message while the first one is on screen: it waits its turn.
  streams[0].onmessage({data: JSON.stringify(scenario.live)});
  streams[0].onmessage({data: "not json"});
  byClass(body, "button")[0].fire("click");  // the first message's button (its link is not followed)
  await settle();
  snapshot("after first button");
  byClass(body, "close")[0].fire("click");  // close the second message
  await settle();
  snapshot("after close");
  documentListeners.fire("keydown", {key: "Escape"});  // Escape closes the live one
  await settle();
  snapshot("after escape");
  inApp.track("Product Added");
  await settle();
  snapshot("after event");
  byClass(body, "content")[0].fire("click");  // the triggered message's own link
  await settle();
  snapshot("after link");
  inApp.stop();
  process.stdout.write(JSON.stringify({
    steps, assigned, violations, head: head.describe(),
    streams: streams.map((s) => ({url: s.url, closed: s.closed})),
    fetches: fetches.map((f) => ({url: f.url, method: f.method, body: f.options.body || null,
                                  headers: f.options.headers || {}, credentials: f.options.credentials || null,
                                  keepalive: f.options.keepalive || false})),
  }));
})().catch((error) => { process.stderr.write(String(error && error.stack || error)); process.exit(1); });
