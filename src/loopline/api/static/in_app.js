/*
 * Loopline in-app messages: a small reference renderer for web pages, with no dependencies.
 *
 *   <script src="https://loopline.example/sdk/in-app.js"></script>
 *   <script>
 *     var inApp = Loopline.inApp.start({
 *       host: "https://loopline.example", writeKey: "llw_…", userId: "u-123", screen: "cart"});
 *     inApp.track("Added to Cart");   // shows the messages that wait for this event
 *     inApp.setScreen("checkout");    // a single-page app moved on
 *   </script>
 *
 * It shows the customer's due messages one at a time (modal, banner or full screen), reports
 * each one as viewed, clicked or dismissed, and keeps a stream open for messages sent while
 * the page is open. Message text is always set as text, never parsed as markup, images load
 * only over https, and links are followed only when they are http(s) or a path on this site.
 * The write key travels in the query string (an EventSource cannot send headers) and in the
 * reports' bodies: it is the public key the tracking calls use, and it reads nothing but the
 * messages of the customer named.
 */
(function (root) {
  "use strict";

  var PREFIX = "loopline-in-app";
  var CSS = [
    "." + PREFIX + "-overlay{position:fixed;inset:0;background:rgba(0,0,0,.45);display:flex;",
    "align-items:center;justify-content:center;z-index:2147483000}",
    "." + PREFIX + "-banner{position:fixed;left:0;right:0;top:0;display:flex;justify-content:center;",
    "padding:8px;z-index:2147483000}",
    "." + PREFIX + "-box{position:relative;box-sizing:border-box;width:calc(100% - 32px);max-width:420px;",
    "padding:20px;border-radius:12px;background:#fff;color:#1a1a1a;",
    "font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;box-shadow:0 10px 40px rgba(0,0,0,.25)}",
    "." + PREFIX + "-banner ." + PREFIX + "-box{max-width:640px;width:100%;padding:12px 44px 12px 16px}",
    "." + PREFIX + "-fullscreen{background:#fff}",
    "." + PREFIX + "-fullscreen ." + PREFIX + "-box{max-width:none;width:100%;height:100%;border-radius:0;",
    "box-shadow:none;overflow:auto}",
    "." + PREFIX + "-image{display:block;width:100%;max-height:240px;object-fit:cover;border-radius:8px;",
    "margin-bottom:12px}",
    "." + PREFIX + "-title{margin:0 0 6px;font-size:18px;font-weight:600}",
    "." + PREFIX + "-body{margin:0;white-space:pre-line}",
    "." + PREFIX + "-linked{cursor:pointer}",
    "." + PREFIX + "-actions{display:flex;flex-wrap:wrap;gap:8px;margin-top:14px}",
    "." + PREFIX + "-button{flex:1 1 auto;border:0;border-radius:8px;padding:10px 14px;background:#1f5eff;",
    "color:#fff;font:inherit;cursor:pointer}",
    "." + PREFIX + "-button+." + PREFIX + "-button{background:#eef1f6;color:#1a1a1a}",
    "." + PREFIX + "-close{position:absolute;top:6px;right:6px;width:32px;height:32px;border:0;",
    "background:transparent;color:#555;font-size:22px;line-height:1;cursor:pointer}"
  ].join("");

  /* Return an absolute http(s) address to follow, or null for any other scheme (script, data, file…). */
  function safeLink(url) {
    if (typeof url !== "string" || !url) return null;
    try {
      var parsed = new URL(url, root.location.href);
      return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
    } catch (error) {
      return null;
    }
  }

  function safeImage(url) {
    var link = safeLink(url);
    return link && link.indexOf("https:") === 0 ? link : null;
  }

  /* Create an element; ``text`` is set as text, so markup in a message shows as characters. */
  function element(tag, names, text) {
    var node = root.document.createElement(tag);
    if (names) {
      node.className = names.split(" ").map(function (name) { return PREFIX + "-" + name; }).join(" ");
    }
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function addStyle(nonce) {
    var doc = root.document;
    if (doc.getElementById(PREFIX + "-style")) return;
    var style = doc.createElement("style");
    style.id = PREFIX + "-style";
    if (nonce) style.setAttribute("nonce", nonce);
    style.textContent = CSS;
    (doc.head || doc.documentElement).appendChild(style);
  }

  function sameScreen(a, b) {
    return String(a || "").trim().toLowerCase() === String(b || "").trim().toLowerCase();
  }

  function start(options) {
    var config = options || {};
    if (!config.host || !config.writeKey || !(config.userId || config.anonymousId)) {
      throw new Error("Loopline.inApp.start needs host, writeKey and a userId or anonymousId");
    }
    var host = String(config.host).replace(/\/+$/, "");
    var ids = {};
    if (config.userId) ids.userId = String(config.userId);
    if (config.anonymousId) ids.anonymousId = String(config.anonymousId);
    var screen = config.screen || null;
    var known = {}; // send key -> true: received from the list or the stream
    var shown = {}; // send key -> true: shown on this page already
    var queue = []; // messages to show now, best first
    var waiting = {}; // event name -> messages to show when it happens
    var current = null; // {message, node, keys}
    var source = null;
    var stopped = false;

    function query() {
      var params = new URLSearchParams(ids);
      params.set("writeKey", config.writeKey);
      if (screen) params.set("screen", screen);
      return params.toString();
    }

    function report(message, action, button) {
      var body = {writeKey: config.writeKey, userId: ids.userId, anonymousId: ids.anonymousId};
      if (button) body.button = button;
      var url = host + "/v1/in-app/messages/" + encodeURIComponent(message.send_key) + "/" + action;
      // A text/plain body keeps it a simple request (no preflight); keepalive lets it finish as the page unloads.
      return root.fetch(url, {
        method: "POST", body: JSON.stringify(body), keepalive: true, credentials: "omit",
        headers: {"Content-Type": "text/plain"}
      }).catch(function () { return null; });
    }

    function receive(message) {
      if (stopped || !message || typeof message.send_key !== "string" || known[message.send_key]) return;
      known[message.send_key] = true;
      var trigger = message.display && message.display.on_event;
      if (trigger) {
        (waiting[trigger] = waiting[trigger] || []).push(message);
      } else {
        enqueue(message);
      }
    }

    function enqueue(message) {
      queue.push(message);
      queue.sort(function (a, b) {
        if ((b.priority || 0) !== (a.priority || 0)) return (b.priority || 0) - (a.priority || 0);
        return a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0;
      });
      next();
    }

    function showable(message) {
      var display = message.display || {};
      var until = Date.parse(display.until || "");
      if (shown[message.send_key] || (until && until <= Date.now())) return false;
      return !display.on_screen || sameScreen(display.on_screen, screen);
    }

    function next() {
      if (current || stopped) return;
      var message = queue.shift();
      while (message && !showable(message)) message = queue.shift();
      if (!message) return;
      shown[message.send_key] = true;
      current = render(message);
      report(message, "viewed");
    }

    function finish(action, button, href) {
      if (!current) return;
      var message = current.message;
      report(message, action, button);
      if (current.node.parentNode) current.node.parentNode.removeChild(current.node);
      root.document.removeEventListener("keydown", current.keys);
      current = null;
      if (href) {
        root.location.assign(href);
      } else {
        next();
      }
    }

    function render(message) {
      addStyle(config.nonce);
      var layout = message.layout === "banner" || message.layout === "fullscreen" ? message.layout : "modal";
      var outer = element("div", layout === "modal" ? "overlay" : layout === "banner" ? "banner" : "overlay fullscreen");
      var box = element("div", "box");
      box.setAttribute("role", layout === "banner" ? "status" : "dialog");
      if (layout !== "banner") box.setAttribute("aria-modal", "true");
      if (message.title) box.setAttribute("aria-label", String(message.title));
      var content = element("div", "content");
      var image = safeImage(message.image_url);
      if (image) {
        var img = element("img", "image");
        img.setAttribute("alt", "");
        img.setAttribute("src", image);
        content.appendChild(img);
      }
      if (message.title) content.appendChild(element("h2", "title", message.title));
      content.appendChild(element("p", "body", message.body));
      var link = safeLink(message.url);
      if (link) {
        content.className += " " + PREFIX + "-linked";
        content.addEventListener("click", function () { finish("clicked", null, link); });
      }
      box.appendChild(content);
      var buttons = Array.isArray(message.buttons) ? message.buttons.slice(0, 3) : [];
      if (buttons.length) {
        var actions = element("div", "actions");
        buttons.forEach(function (button) {
          var node = element("button", "button", button.title);
          node.setAttribute("type", "button");
          node.addEventListener("click", function () { finish("clicked", button.id, safeLink(button.url)); });
          actions.appendChild(node);
        });
        box.appendChild(actions);
      }
      // A message with no way out would cover the page for good, so it can always be closed then.
      var closable = message.dismissible !== false || (!buttons.length && !link);
      if (closable) {
        var closer = element("button", "close", "\u00d7");
        closer.setAttribute("type", "button");
        closer.setAttribute("aria-label", "Close");
        closer.addEventListener("click", function () { finish("dismissed"); });
        box.appendChild(closer);
      }
      var keys = function (event) {
        if (closable && event.key === "Escape") finish("dismissed");
      };
      root.document.addEventListener("keydown", keys);
      outer.appendChild(box);
      root.document.body.appendChild(outer);
      return {message: message, node: outer, keys: keys};
    }

    function load() {
      return root.fetch(host + "/v1/in-app/messages?" + query(), {credentials: "omit"})
        .then(function (response) { return response.ok ? response.json() : {messages: []}; })
        .then(function (page) { (page.messages || []).forEach(receive); })
        .catch(function () { return null; });
    }

    function listen() {
      if (config.live === false || typeof root.EventSource !== "function") return;
      source = new root.EventSource(host + "/v1/in-app/stream?" + query());
      source.onmessage = function (event) {
        var message = null;
        try {
          message = JSON.parse(event.data);
        } catch (error) {
          return;
        }
        receive(message);
      };
    }

    function restart() {
      if (source) source.close();
      // Messages not shown yet are asked for again: the server decides what is due on this screen.
      known = {};
      Object.keys(shown).forEach(function (key) { known[key] = true; });
      queue = [];
      waiting = {};
      controller.ready = load();
      listen();
    }

    var controller = {
      ready: null,
      /* Show the messages waiting for this event (call it where the page tracks the event). */
      track: function (name) {
        var list = waiting[name];
        if (!list) return;
        delete waiting[name];
        list.forEach(enqueue);
      },
      /* The page shows another screen: ask again for what is due there. */
      setScreen: function (name) {
        screen = name || null;
        restart();
      },
      /* Close the stream and take the message off the page. */
      stop: function () {
        stopped = true;
        if (source) source.close();
        if (current && current.node.parentNode) current.node.parentNode.removeChild(current.node);
        if (current) root.document.removeEventListener("keydown", current.keys);
        current = null;
      }
    };
    controller.ready = load();
    listen();
    return controller;
  }

  root.Loopline = root.Loopline || {};
  root.Loopline.inApp = {start: start};
})(typeof window !== "undefined" ? window : this);
