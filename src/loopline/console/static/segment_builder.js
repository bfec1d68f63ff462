// The segment builder: a tree editor for every condition of the segment definition language. It
// keeps the definition as plain JSON (outside Alpine's reactivity, so typing never re-renders the
// tree and loses focus), writes it into the form's "condition" field on every change, and asks
// the server for a live count and a sample, debounced. The server's segment language is the only
// judge of a definition: its message is shown as it comes back. Served as a file: the console's
// Content-Security-Policy allows no inline script and no eval.
(function () {
  "use strict";

  var DEBOUNCE_MS = 400;
  var LABELS = {
    and: "All of", or: "Any of", not: "Not", trait: "Trait", computed: "Computed property",
    performed: "Performed an event", sequence: "Did one event, then another", inactive: "Inactive",
    device: "Device", location: "Location", reachable: "Reachable on a channel",
    engagement: "Engaged with messages", in_segment: "In another segment"
  };
  var TYPES = Object.keys(LABELS);
  var OPERATOR_WORDS = {
    eq: "is", ne: "is not", lt: "less than", lte: "at most", gt: "more than", gte: "at least",
    between: "between", contains: "contains", in: "is one of", not_in: "is none of", exists: "is set",
    not_exists: "is not set", within_next_days: "within the next … days", within_last_days: "within the last … days",
    anniversary_within_next_days: "anniversary within the next … days"
  };
  var LIST_OPERATORS = ["in", "not_in"];
  var NO_OPERAND = ["exists", "not_exists"];
  var DAY_OPERATORS = ["within_next_days", "within_last_days", "anniversary_within_next_days"];
  var COUNT_WORDS = { at_least: "at least", at_most: "at most", exactly: "exactly" };

  // ----- small DOM helpers -------------------------------------------------------------------

  function el(tag, attributes, children) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      if (name === "text") { node.textContent = attributes[name]; } else { node.setAttribute(name, attributes[name]); }
    });
    (children || []).forEach(function (child) { if (child) { node.append(child); } });
    return node;
  }

  function choice(options, current, field, onChange) {
    var select = el("select", { "data-field": field, "aria-label": field.replace(/_/g, " ") });
    options.forEach(function (option) {
      var value = Array.isArray(option) ? option[0] : option;
      var label = Array.isArray(option) ? option[1] : option;
      var item = el("option", { value: value, text: label });
      if (String(current) === String(value)) { item.selected = true; }
      select.append(item);
    });
    select.addEventListener("change", function () { onChange(select.value); });
    return select;
  }

  function field(value, name, onInput, attributes) {
    var input = el("input", Object.assign({ "data-field": name, "aria-label": name.replace(/_/g, " ") },
      attributes || {}));
    input.value = value === null || value === undefined ? "" : String(value);
    input.addEventListener("input", function () { onInput(input.value); });
    return input;
  }

  function button(label, name, onClick) {
    var node = el("button", { type: "button", class: "seg-small", "data-action": name, text: label });
    node.addEventListener("click", onClick);
    return node;
  }

  function words(text) { return el("span", { class: "seg-word", text: text }); }

  function number(text) {
    var trimmed = String(text).trim();
    return trimmed === "" || isNaN(Number(trimmed)) ? null : Number(trimmed);
  }

  function setOrDrop(object, key, value) {
    if (value === null || value === undefined || value === "") { delete object[key]; } else { object[key] = value; }
  }

  // ----- what a new condition of each type starts as ----------------------------------------

  function fresh(type, choices) {
    switch (type) {
      case "and": case "or": return { type: type, conditions: [] };
      case "not": return { type: "not", condition: fresh("trait", choices) };
      case "trait": return { type: "trait", trait: "", operator: "eq", value: "" };
      case "computed": return { type: "computed", property: "orders", operator: "gte", value: 1 };
      case "performed":
        return { type: "performed", event: "", count: { operator: "at_least", value: 1 }, window: { last_days: 30 } };
      case "sequence":
        return { type: "sequence", first: { event: "" }, then: { event: "" }, within_minutes: 60, then_absent: false };
      case "inactive": return { type: "inactive", activity: "session", days: 30 };
      case "device": return { type: "device", field: "platform", operator: "eq", value: "ios" };
      case "location": return { type: "location", country: "DE" };
      case "reachable": return { type: "reachable", channel: "email", topic: "all" };
      case "engagement":
        return { type: "engagement", action: "opened", channel: "email", count: { operator: "at_least", value: 1 },
                 window: { last_days: 30 } };
      case "in_segment":
        return { type: "in_segment", segment_id: choices.segments.length ? choices.segments[0].id : "" };
      default: return { type: type };
    }
  }

  // ----- the tree editor ---------------------------------------------------------------------

  function Editor(choices, changed, restructured) {
    this.choices = choices;
    this.changed = changed;            // a value changed: save and estimate
    this.restructured = restructured;  // the shape changed: draw again, save and estimate
  }

  // A typed value: text, number, yes/no; the kind follows the JSON type of what is stored.
  Editor.prototype.kindOf = function (value) {
    if (typeof value === "boolean") { return "boolean"; }
    if (typeof value === "number") { return "number"; }
    return "text";
  };

  Editor.prototype.convert = function (value, kind) {
    if (kind === "boolean") { return value === true || value === "true"; }
    if (kind === "number") { var found = number(value); return found === null ? 0 : found; }
    return value === null || value === undefined ? "" : String(value);
  };

  Editor.prototype.typedInput = function (value, kind, name, onValue) {
    if (kind === "boolean") {
      return choice([["true", "true"], ["false", "false"]], String(value === true), name, function (picked) {
        onValue(picked === "true");
      });
    }
    if (kind === "number") {
      return field(value, name, function (text) { onValue(number(text)); }, { type: "number", step: "any" });
    }
    return field(value, name, function (text) { onValue(text); }, { placeholder: "value or 2026-05-01" });
  };

  // The operator and its operands: value, values, low and high, or days.
  Editor.prototype.comparison = function (node, operators, kinds) {
    var self = this;
    var box = el("span", { class: "seg-comparison" });
    box.append(choice(operators.map(function (op) { return [op, OPERATOR_WORDS[op] || op]; }), node.operator,
      "operator", function (op) { self.reshape(node, op); self.restructured(); }));
    var op = node.operator;
    if (NO_OPERAND.indexOf(op) >= 0) { return box; }
    if (DAY_OPERATORS.indexOf(op) >= 0) {
      box.append(field(node.days, "days", function (text) { node.days = number(text); self.changed(); },
        { type: "number", min: "1", max: String(self.choices.max_days) }), words("days"));
      return box;
    }
    var current = op === "between" ? node.low : LIST_OPERATORS.indexOf(op) >= 0 ? (node.values || [])[0] : node.value;
    var kind = this.kindOf(current);
    if (kinds.length > 1 && op !== "contains") {
      box.append(choice(kinds, kind, "kind", function (picked) {
        ["value", "low", "high"].forEach(function (key) {
          if (key in node) { node[key] = self.convert(node[key], picked); }
        });
        if (node.values) { node.values = node.values.map(function (v) { return self.convert(v, picked); }); }
        self.restructured();
      }));
    }
    if (op === "between") {
      box.append(this.typedInput(node.low, kind, "low", function (v) { node.low = v; self.changed(); }), words("and"),
        this.typedInput(node.high, kind, "high", function (v) { node.high = v; self.changed(); }));
    } else if (LIST_OPERATORS.indexOf(op) >= 0) {
      box.append(field((node.values || []).join(", "), "values", function (text) {
        node.values = text.split(",").map(function (part) { return part.trim(); })
          .filter(function (part) { return part !== ""; })
          .map(function (part) { return self.convert(part, kind); });
        self.changed();
      }, { placeholder: "one, two, three" }));
    } else {
      box.append(this.typedInput(node.value, kind, "value", function (v) { node.value = v; self.changed(); }));
    }
    return box;
  };

  // A new operator keeps what it can of the old operands.
  Editor.prototype.reshape = function (node, op) {
    var previous = node.value !== undefined ? node.value : node.low !== undefined ? node.low
      : node.values ? node.values[0] : "";
    ["value", "values", "low", "high", "days"].forEach(function (key) { delete node[key]; });
    node.operator = op;
    if (NO_OPERAND.indexOf(op) >= 0) { return; }
    if (DAY_OPERATORS.indexOf(op) >= 0) { node.days = 30; return; }
    if (LIST_OPERATORS.indexOf(op) >= 0) { node.values = previous === "" ? [] : [previous]; return; }
    if (op === "between") { node.low = previous === "" ? 0 : previous; node.high = node.low; return; }
    node.value = op === "contains" ? String(previous === undefined ? "" : previous) : previous;
  };

  Editor.prototype.count = function (count) {
    var self = this;
    return el("span", { class: "seg-count" }, [
      choice(Object.keys(COUNT_WORDS).map(function (k) { return [k, COUNT_WORDS[k]]; }), count.operator || "at_least",
        "count_operator", function (v) { count.operator = v; self.changed(); }),
      field(count.value, "count_value", function (text) { count.value = number(text); self.changed(); },
        { type: "number", min: "0" }),
      words("times")
    ]);
  };

  // When: ever, in the last days, or between two dates.
  Editor.prototype.window = function (holder) {
    var self = this;
    var current = holder.window;
    var kind = !current ? "ever" : current.last_days !== undefined ? "last_days" : "dates";
    var box = el("span", { class: "seg-window" }, [
      choice([["ever", "ever"], ["last_days", "in the last"], ["dates", "between dates"]], kind, "window",
        function (picked) {
          if (picked === "ever") { delete holder.window; } else if (picked === "last_days") {
            holder.window = { last_days: 30 };
          } else { holder.window = { since: new Date(Date.now() - 30 * 864e5).toISOString().slice(0, 10) + "T00:00:00Z" }; }
          self.restructured();
        })
    ]);
    if (kind === "last_days") {
      box.append(field(current.last_days, "last_days", function (text) { current.last_days = number(text); self.changed(); },
        { type: "number", min: "1", max: String(self.choices.max_days) }), words("days"));
    } else if (kind === "dates") {
      ["since", "until"].forEach(function (key) {
        box.append(words(key === "since" ? "from" : "until"), field((current[key] || "").slice(0, 10), key,
          function (text) { setOrDrop(current, key, text ? text + "T00:00:00Z" : ""); self.changed(); },
          { type: "date" }));
      });
    }
    return box;
  };

  // Property filters on an event: ``where``.
  Editor.prototype.filters = function (holder) {
    var self = this;
    var list = el("div", { class: "seg-filters" });
    (holder.where || []).forEach(function (filter, index) {
      list.append(el("div", { class: "seg-filter", "data-testid": "property-filter" }, [
        words("where"),
        field(filter.property, "property", function (text) { filter.property = text; self.changed(); },
          { placeholder: "property, e.g. product.category" }),
        self.comparison(filter, self.choices.operators, ["text", "number", "boolean"]),
        button("×", "remove-filter", function () {
          holder.where.splice(index, 1);
          if (!holder.where.length) { delete holder.where; }
          self.restructured();
        })
      ]));
    });
    list.append(button("+ property filter", "add-filter", function () {
      (holder.where = holder.where || []).push({ property: "", operator: "eq", value: "" });
      self.restructured();
    }));
    return list;
  };

  Editor.prototype.body = function (node) {
    var self = this;
    var changed = this.changed;
    var restructured = this.restructured;
    var choices = this.choices;
    var ops = choices.operators;
    switch (node.type) {
      case "trait":
        return [field(node.trait, "trait", function (t) { node.trait = t; changed(); }, { placeholder: "trait, e.g. plan" }),
          this.comparison(node, ops, ["text", "number", "boolean"])];
      case "computed": {
        var kind = choices.computed[node.property];
        var fitting = ops.filter(function (op) {
          return kind === "date" ? op !== "contains" : DAY_OPERATORS.indexOf(op) < 0;
        });
        return [choice(Object.keys(choices.computed).map(function (p) { return [p, p.replace(/_/g, " ")]; }),
          node.property, "property", function (p) {
            // A property of another type starts again from a comparison that fits it.
            var was = choices.computed[node.property];
            node.property = p;
            if (choices.computed[p] !== was) {
              ["value", "values", "low", "high", "days"].forEach(function (key) { delete node[key]; });
              var start = { date: ["within_last_days", "days", 30], number: ["gte", "value", 1], text: ["eq", "value", ""] };
              var picked = start[choices.computed[p]];
              node.operator = picked[0];
              node[picked[1]] = picked[2];
            }
            restructured();
          }),
          this.comparison(node, fitting, kind === "number" ? ["number"] : ["text"])];
      }
      case "device": {
        if (node.field === "has_push_token") {
          return [this.deviceField(node), words("is"),
            choice([["true", "true"], ["false", "false"]], String(node.value === true), "value", function (v) {
              node.operator = "eq"; node.value = v === "true"; changed();
            })];
        }
        var deviceOps = ops.filter(function (op) { return DAY_OPERATORS.indexOf(op) < 0; });
        return [this.deviceField(node), this.comparison(node, deviceOps, ["text"])];
      }
      case "performed":
        node.count = node.count || { operator: "at_least", value: 1 };
        return [field(node.event, "event", function (t) { node.event = t; changed(); }, { placeholder: "event name" }),
          this.count(node.count), this.window(node), this.filters(node)];
      case "sequence":
        return [words("first"), field(node.first.event, "first_event", function (t) { node.first.event = t; changed(); },
          { placeholder: "first event" }), this.filters(node.first),
          choice([["false", "then did"], ["true", "then did not do"]], String(!!node.then_absent), "then_absent",
            function (v) { node.then_absent = v === "true"; changed(); }),
          field(node.then.event, "then_event", function (t) { node.then.event = t; changed(); },
            { placeholder: "second event" }), this.filters(node.then),
          words("within"), field(node.within_minutes, "within_minutes", function (t) {
            node.within_minutes = number(t); changed();
          }, { type: "number", min: "1" }), words("minutes,"), this.window(node)];
      case "inactive":
        return [words("no"), choice(choices.activities, node.activity, "activity", function (v) {
          node.activity = v;
          if (v === "event") { node.event = node.event || ""; } else { delete node.event; }
          restructured();
        }), node.activity === "event" ? field(node.event, "event", function (t) { node.event = t; changed(); },
          { placeholder: "event name" }) : null,
        words("for"), field(node.days, "days", function (t) { node.days = number(t); changed(); },
          { type: "number", min: "1", max: String(choices.max_days) }), words("days")];
      case "location":
        return this.location(node);
      case "reachable":
        return [choice(choices.channels, node.channel, "channel", function (v) { node.channel = v; changed(); }),
          words("topic"), field(node.topic, "topic", function (t) { setOrDrop(node, "topic", t); changed(); },
            { placeholder: "all" })];
      case "engagement":
        return this.engagement(node);
      case "in_segment":
        return [choice([["", "choose a segment"]].concat(choices.segments.map(function (s) { return [s.id, s.name]; })),
          node.segment_id, "segment_id", function (v) { node.segment_id = v; changed(); })];
      default:
        return [this.raw(node)];
    }
  };

  Editor.prototype.deviceField = function (node) {
    var self = this;
    return choice(this.choices.device_fields.map(function (f) { return [f, f.replace(/_/g, " ")]; }), node.field,
      "device_field", function (picked) {
        node.field = picked;
        ["value", "values", "low", "high", "days"].forEach(function (key) { delete node[key]; });
        node.operator = "eq";
        node.value = picked === "has_push_token" ? true : "";
        self.restructured();
      });
  };

  Editor.prototype.location = function (node) {
    var changed = this.changed;
    var parts = [];
    [["country", "country (DE)"], ["region", "region"], ["postal_code", "postal code"]].forEach(function (pair) {
      parts.push(field(node[pair[0]], pair[0], function (t) { setOrDrop(node, pair[0], t.trim()); changed(); },
        { placeholder: pair[1] }));
    });
    parts.push(words("or near"));
    var near = node.near || {};
    [["latitude", "latitude"], ["longitude", "longitude"], ["radius_km", "km"]].forEach(function (pair) {
      parts.push(field(near[pair[0]], pair[0], function (t) {
        setOrDrop(near, pair[0], number(t));
        if (Object.keys(near).length) { node.near = near; } else { delete node.near; }
        changed();
      }, { type: "number", step: "any", placeholder: pair[1] }));
    });
    return parts;
  };

  Editor.prototype.engagement = function (node) {
    var changed = this.changed;
    var restructured = this.restructured;
    node.count = node.count || { operator: "at_least", value: 1 };
    var lastMessages = node.of_last !== undefined && node.of_last !== null;
    var parts = [
      choice(this.choices.actions, node.action, "action", function (v) { node.action = v; changed(); }),
      choice([["", "any channel"]].concat(this.choices.channels), node.channel || "", "channel", function (v) {
        setOrDrop(node, "channel", v); changed();
      }),
      field(node.campaign_id, "campaign_id", function (t) { setOrDrop(node, "campaign_id", t.trim()); changed(); },
        { placeholder: "campaign id (any)" }),
      this.count(node.count),
      choice([["window", "counting messages over time"], ["of_last", "of their last messages"]],
        lastMessages ? "of_last" : "window", "engagement_scope", function (v) {
          if (v === "of_last") { node.of_last = 5; delete node.window; } else { delete node.of_last; }
          restructured();
        })
    ];
    if (lastMessages) {
      parts.push(field(node.of_last, "of_last", function (t) { node.of_last = number(t); changed(); },
        { type: "number", min: "1", max: String(this.choices.max_of_last) }), words("messages"));
    } else {
      parts.push(this.window(node));
    }
    return parts;
  };

  // A condition this editor does not know (typed into the JSON box): edited as JSON in place.
  Editor.prototype.raw = function (node) {
    var changed = this.changed;
    var area = el("textarea", { "data-field": "raw", rows: "3", "aria-label": "condition as JSON" });
    area.value = JSON.stringify(node);
    area.addEventListener("input", function () {
      try {
        var parsed = JSON.parse(area.value);
        Object.keys(node).forEach(function (key) { delete node[key]; });
        Object.assign(node, parsed);
        changed();
      } catch (ignored) { /* kept until it parses; the JSON box shows the last good value */ }
    });
    return area;
  };

  // One condition with its tools; ``replace`` puts another condition in its place (null removes it).
  Editor.prototype.node = function (node, replace, isRoot) {
    var self = this;
    var group = node.type === "and" || node.type === "or";
    var box = el("div", { class: "seg-node seg-" + node.type, "data-testid": "node-" + node.type });
    var head = el("div", { class: "seg-head" });
    if (group) {
      head.append(choice([["and", "All of these"], ["or", "Any of these"]], node.type, "group", function (v) {
        node.type = v; self.restructured();
      }));
    } else {
      head.append(el("strong", { class: "seg-label", text: LABELS[node.type] || String(node.type) }));
    }
    if (!group && node.type !== "not") {
      this.body(node).forEach(function (part) { if (part) { head.append(part); } });
    }
    var tools = el("span", { class: "seg-tools" });
    if (node.type === "not") {
      tools.append(button("undo not", "unwrap-not", function () { replace(node.condition); self.restructured(); }));
    } else {
      tools.append(button("not", "wrap-not", function () { replace({ type: "not", condition: node }); self.restructured(); }));
    }
    if (!group) {
      tools.append(button("group", "wrap-group", function () {
        replace({ type: "and", conditions: [node] }); self.restructured();
      }));
    }
    if (!isRoot) { tools.append(button("remove", "remove", function () { replace(null); self.restructured(); })); }
    head.append(tools);
    box.append(head);
    if (node.type === "not") {
      box.append(el("div", { class: "seg-children" }, [
        this.node(node.condition, function (other) {
          node.condition = other || fresh("trait", self.choices);
        }, true)
      ]));
    }
    if (group) { box.append(this.children(node)); }
    return box;
  };

  Editor.prototype.children = function (node) {
    var self = this;
    var list = el("div", { class: "seg-children" });
    node.conditions.forEach(function (child, index) {
      list.append(self.node(child, function (other) {
        if (other === null) { node.conditions.splice(index, 1); } else { node.conditions[index] = other; }
      }, false));
    });
    if (!node.conditions.length) {
      list.append(el("p", { class: "muted small", text: "No condition yet: add one below." }));
    }
    list.append(choice([["", "+ add a condition…"]].concat(TYPES.map(function (t) { return [t, LABELS[t]]; })), "",
      "add", function (type) {
        if (!type) { return; }
        node.conditions.push(fresh(type, self.choices));
        self.restructured();
      }));
    return list;
  };

  // ----- the Alpine component ----------------------------------------------------------------

  document.addEventListener("alpine:init", function () {
    window.Alpine.data("segmentBuilder", function () {
      // The definition lives outside Alpine's reactive state: inputs change it in place.
      var state = { root: null, editor: null, timer: null, asked: 0 };
      return {
        countText: "—", detail: "", problem: "", showProblem: false, counting: false,
        sample: [], warnings: [], words: "",

        init: function () {
          var data = JSON.parse(document.getElementById("builder-data").textContent);
          var condition = data.condition;
          state.root = condition && typeof condition === "object" && !Array.isArray(condition)
            ? condition : { type: "and", conditions: [] };
          state.editor = new Editor(data.choices, this.changed.bind(this), this.restructured.bind(this));
          this.draw();
          if (data.condition_text && !condition) {
            this.fail("the condition in the JSON box is not valid JSON; fix it there or build it again here");
            return;
          }
          this.save();
          this.estimate();
        },

        draw: function () {
          var tree = this.$refs.tree;
          tree.replaceChildren(state.editor.node(state.root, function (other) {
            state.root = other || { type: "and", conditions: [] };
          }, true));
        },

        empty: function () { return state.root.type === "and" && !state.root.conditions.length; },

        save: function () { this.$refs.json.value = this.empty() ? "" : JSON.stringify(state.root, null, 2); },

        changed: function () { this.save(); this.later(); },

        restructured: function () { this.draw(); this.changed(); },

        // The JSON box was edited by hand: it becomes the tree, when it parses.
        fromJson: function () {
          var text = this.$refs.json.value;
          if (!text.trim()) { state.root = { type: "and", conditions: [] }; this.restructured(); return; }
          try {
            var parsed = JSON.parse(text);
            if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) { throw new Error("not an object"); }
            state.root = parsed;
          } catch (error) {
            this.fail("the JSON box does not hold a JSON object: " + error.message);
            return;
          }
          this.draw();
          this.later();
        },

        later: function () {
          window.clearTimeout(state.timer);
          state.timer = window.setTimeout(this.estimate.bind(this), DEBOUNCE_MS);
        },

        fail: function (message) {
          this.problem = message;
          this.showProblem = true;
          this.countText = "—";
          this.detail = "";
          this.sample = [];
          this.warnings = [];
        },

        estimate: function () {
          var self = this;
          if (this.empty()) {
            this.fail("Add a condition to see who matches.");
            return;
          }
          var asked = ++state.asked;
          var form = this.$root;
          this.counting = true;
          fetch(form.dataset.estimate, {
            method: "POST", credentials: "same-origin",
            headers: { "Content-Type": "application/json", Accept: "application/json",
                       "X-CSRF-Token": form.querySelector("[name=csrf_token]").value },
            body: JSON.stringify({ name: form.querySelector("[name=name]").value, condition: state.root })
          }).then(function (response) {
            if (response.status === 401) { window.location.assign("/console/login"); return null; }
            return response.json().then(function (body) { return { ok: response.ok, body: body }; });
          }).then(function (answer) {
            if (!answer || asked !== state.asked) { return; }  // a newer question is on its way
            self.counting = false;
            if (!answer.ok) { self.fail(answer.body.message || "the definition was refused"); return; }
            var found = answer.body;
            self.showProblem = false;
            self.problem = "";
            self.countText = found.exact ? String(found.count) : "≈ " + found.count;
            self.detail = found.exact ? "" : "estimated from a " + found.sample_percent + " % sample: "
              + found.count_low + " to " + found.count_high;
            self.sample = found.sample;
            self.warnings = found.warnings;
            self.words = found.words;
          }).catch(function (error) {
            if (asked !== state.asked) { return; }
            self.counting = false;
            self.fail("could not count: " + error.message);
          });
        }
      };
    });
  });
})();
