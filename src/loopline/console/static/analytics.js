// The analytics explorer and the dashboards: builds a report request from the explorer's fields,
// runs it, and draws any report's answer as an ECharts chart and a table of the same numbers.
// Served as a file: the console's Content-Security-Policy allows no inline script and no eval.
(function () {
  "use strict";

  var WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
  var HOURS = [];
  for (var hour = 0; hour < 24; hour++) { HOURS.push(String(hour)); }

  function dataOf(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function label(group) { return group === null || group === undefined ? "(none)" : String(group); }

  function percent(value) { return value === null || value === undefined ? "—" : (value * 100).toFixed(1) + " %"; }

  function bucketName(bucket) {
    if (bucket.from === null) { return "below " + bucket.to; }
    if (bucket.to === null) { return bucket.from + " and above"; }
    return bucket.from + " to " + bucket.to;
  }

  // -- the table: columns and rows of the numbers the chart shows ------------------------------

  function parts(answer) {
    // A grouped answer repeats the ungrouped fields per group; an ungrouped one is one part.
    if (answer.groups) {
      return answer.groups.map(function (part) { return { group: label(part.group), part: part }; });
    }
    return [{ group: null, part: answer }];
  }

  var TABLES = {
    events: function (part) {
      return { columns: ["date", "value"], rows: part.series.map(function (p) { return [p.date, p.value]; })
        .concat([["total", part.total]]) };
    },
    active_users: function (part) {
      return { columns: ["date", "DAU", "WAU", "MAU", "stickiness"], rows: part.series.map(function (p) {
        return [p.date, p.dau, p.wau, p.mau, percent(p.stickiness)]; }) };
    },
    new_vs_returning: function (part) {
      return { columns: ["date", "new", "returning"], rows: part.series.map(function (p) {
        return [p.date, p["new"], p.returning]; }) };
    },
    live: function (part) {
      return { columns: ["minute", "events", "users"], rows: part.series.map(function (p) {
        return [p.minute.slice(11, 16), p.events, p.users]; }) };
    },
    distribution: function (part) {
      return { columns: ["bucket", "count"], rows: part.buckets.map(function (b) { return [bucketName(b), b.count]; })
        .concat([["values", part.count], ["average", part.average === null ? "—" : part.average.toFixed(2)]]) };
    },
    sessions: function (part) {
      var rows = [["sessions", "all", part.sessions], ["users", "all", part.users]];
      part.length.forEach(function (b) { rows.push(["sessions lasting", b.bucket, b.sessions]); });
      part.per_user.forEach(function (b) { rows.push(["users with sessions", String(b.sessions), b.users]); });
      return { columns: ["measure", "bucket", "count"], rows: rows };
    },
    retention: function (part) {
      var longest = 0;
      part.cohorts.forEach(function (c) { longest = Math.max(longest, c.retained.length); });
      var columns = ["cohort", "size"];
      for (var k = 0; k < longest; k++) { columns.push("+" + k); }
      return { columns: columns, rows: part.cohorts.map(function (c) {
        var row = [c.cohort, c.size];
        for (var k = 0; k < longest; k++) { row.push(k < c.retained.length ? c.retained[k] : ""); }
        return row;
      }) };
    },
    funnel: function (part) {
      return { columns: ["step", "event", "users", "conversion", "median seconds to step"], rows: part.steps.map(
        function (s) { return [s.step, s.event, s.users, percent(s.conversion),
                               s.median_seconds_to_step === null ? "—" : s.median_seconds_to_step]; }) };
    },
    paths: function (part) {
      var events = {};
      part.nodes.forEach(function (n) { events[n.id] = n.step + ". " + n.event; });
      return { columns: ["from", "to", "count"], rows: part.links.map(function (l) {
        return [events[l.source], events[l.target], l.count]; }) };
    },
    affinity: function (part) {
      return { columns: ["category", "with category", "orders"], rows: part.pairs.map(function (p) {
        return [p.a, p.b, p.orders]; }) };
    },
    geography: function (part) {
      return { columns: ["place", "users"], rows: part.places.map(function (p) { return [label(p.place), p.users]; }) };
    }
  };

  function wideTrend(answer) {
    // A grouped trend reads best as one row per day and one column per group.
    var groups = answer.groups;
    var days = groups.length ? groups[0].series.map(function (p) { return p.date; }) : [];
    var rows = days.map(function (day, index) {
      return [day].concat(groups.map(function (g) { return g.series[index].value; }));
    });
    rows.push(["total"].concat(groups.map(function (g) { return g.total; })));
    return { columns: ["date"].concat(groups.map(function (g) { return label(g.group); })), rows: rows };
  }

  function tableOf(answer) {
    if (answer.report === "events" && answer.groups) { return wideTrend(answer); }
    var build = TABLES[answer.report];
    var columns = null;
    var rows = [];
    parts(answer).forEach(function (entry) {
      var table = build(entry.part);
      columns = entry.group === null ? table.columns : ["group"].concat(table.columns);
      table.rows.forEach(function (row) { rows.push(entry.group === null ? row : [entry.group].concat(row)); });
    });
    return { columns: columns || ["group"], rows: rows };
  }

  function fillTable(element, answer) {
    var table = tableOf(answer);
    element.replaceChildren();
    var head = document.createElement("thead");
    var headRow = document.createElement("tr");
    table.columns.forEach(function (name) {
      var cell = document.createElement("th");
      cell.textContent = name;
      headRow.append(cell);
    });
    head.append(headRow);
    var body = document.createElement("tbody");
    table.rows.forEach(function (row) {
      var line = document.createElement("tr");
      row.forEach(function (value) {
        var cell = document.createElement("td");
        cell.textContent = value === null || value === undefined ? "—" : String(value);
        if (typeof value === "number") { cell.className = "num"; }
        line.append(cell);
      });
      body.append(line);
    });
    element.append(head, body);
  }

  // -- the chart ---------------------------------------------------------------------------------

  function base() {
    return { animation: false, tooltip: { trigger: "axis" }, legend: { top: 0, type: "scroll" },
             grid: { left: 56, right: 24, top: 40, bottom: 40 } };
  }

  function lines(categories, series, kind) {
    return Object.assign(base(), {
      xAxis: { type: "category", data: categories },
      yAxis: { type: "value" },
      series: series.map(function (s) {
        return { name: s.name, type: kind || "line", stack: s.stack, showSymbol: false, data: s.data };
      })
    });
  }

  function timeChart(answer, measures) {
    // measures: [[field, name]]; grouped answers draw the first measure once per group.
    var first = answer.groups ? (answer.groups[0] || { series: [] }) : answer;
    var days = first.series.map(function (p) { return p.date || p.minute.slice(11, 16); });
    if (answer.groups) {
      return lines(days, answer.groups.map(function (g) {
        return { name: label(g.group), data: g.series.map(function (p) { return measures[0][2](p); }) };
      }));
    }
    return lines(days, measures.map(function (m) {
      return { name: m[1], data: answer.series.map(function (p) { return m[2](p); }) };
    }));
  }

  function field(name) { return function (point) { return point[name]; }; }

  function barsPerGroup(answer, categoriesOf, valuesOf) {
    var first = parts(answer)[0];
    var categories = first ? categoriesOf(first.part) : [];
    var option = lines(categories, parts(answer).map(function (entry) {
      return { name: entry.group === null ? "" : entry.group, data: valuesOf(entry.part) };
    }), "bar");
    if (!answer.groups) { option.legend = { show: false }; }
    return option;
  }

  function retentionChart(answer) {
    if (answer.groups) {
      // One line per group: the share of all cohorts' members active k periods after their first.
      var longest = 0;
      answer.groups.forEach(function (g) {
        g.cohorts.forEach(function (c) { longest = Math.max(longest, c.retained.length); });
      });
      var ks = [];
      for (var k = 0; k < longest; k++) { ks.push("+" + k); }
      return lines(ks, answer.groups.map(function (g) {
        return { name: label(g.group), data: ks.map(function (_, index) {
          var size = 0, back = 0;
          g.cohorts.forEach(function (c) { if (index < c.retained.length) { size += c.size; back += c.retained[index]; } });
          return size ? Math.round(back / size * 1000) / 10 : null;
        }) };
      }));
    }
    var cohorts = answer.cohorts.map(function (c) { return c.cohort; });
    var most = 0;
    var cells = [];
    answer.cohorts.forEach(function (c, row) {
      most = Math.max(most, c.retained.length);
      c.retained.forEach(function (n, k) { cells.push([k, row, c.size ? Math.round(n / c.size * 1000) / 10 : 0]); });
    });
    var periods = [];
    for (var p = 0; p < most; p++) { periods.push("+" + p); }
    return heatmap(periods, cohorts, cells, 100, "% retained");
  }

  function heatmap(xs, ys, cells, max, name) {
    return {
      animation: false,
      tooltip: { position: "top" },
      grid: { left: 96, right: 24, top: 16, bottom: 72 },
      xAxis: { type: "category", data: xs, splitArea: { show: true } },
      yAxis: { type: "category", data: ys, splitArea: { show: true } },
      visualMap: { min: 0, max: Math.max(1, max), calculable: true, orient: "horizontal", left: "center", bottom: 0 },
      series: [{ name: name, type: "heatmap", data: cells, label: { show: ys.length <= 12 && xs.length <= 16 } }]
    };
  }

  function sessionsChart(answer) {
    if (answer.groups) {
      return barsPerGroup(answer, function (part) { return part.length.map(function (b) { return b.bucket; }); },
                          function (part) { return part.length.map(function (b) { return b.sessions; }); });
    }
    var most = 0;
    var cells = answer.heatmap.map(function (c) { most = Math.max(most, c.events); return [c.hour, c.weekday, c.events]; });
    return heatmap(HOURS, WEEKDAYS, cells, most, "events");
  }

  function pathsChart(answer) {
    var nodes = answer.nodes.map(function (n) { return { name: n.id, value: n.count }; });
    var names = {};
    answer.nodes.forEach(function (n) { names[n.id] = n.event; });
    return {
      animation: false,
      tooltip: { trigger: "item" },
      series: [{
        type: "sankey", left: 16, right: 120, top: 16, bottom: 16, nodeAlign: "left", emphasis: { focus: "adjacency" },
        label: { formatter: function (params) { return names[params.name] + " (" + params.value + ")"; } },
        data: nodes,
        links: answer.links.map(function (l) { return { source: l.source, target: l.target, value: l.count }; })
      }]
    };
  }

  var CHARTS = {
    events: function (a) { return timeChart(a, [["value", "value", field("value")]]); },
    active_users: function (a) {
      return timeChart(a, [["dau", "DAU", field("dau")], ["wau", "WAU", field("wau")], ["mau", "MAU", field("mau")]]);
    },
    new_vs_returning: function (a) {
      if (a.groups) {
        return timeChart(a, [["active", "active", function (p) { return p["new"] + p.returning; }]]);
      }
      var days = a.series.map(function (p) { return p.date; });
      return lines(days, [{ name: "new", stack: "users", data: a.series.map(field("new")) },
                          { name: "returning", stack: "users", data: a.series.map(field("returning")) }], "bar");
    },
    live: function (a) { return timeChart(a, [["events", "events", field("events")], ["users", "users", field("users")]]); },
    distribution: function (a) {
      return barsPerGroup(a, function (part) { return part.buckets.map(bucketName); },
                          function (part) { return part.buckets.map(field("count")); });
    },
    sessions: sessionsChart,
    retention: retentionChart,
    funnel: function (a) {
      return barsPerGroup(a, function (part) { return part.steps.map(function (s) { return s.step + ". " + s.event; }); },
                          function (part) { return part.steps.map(field("users")); });
    },
    paths: pathsChart,
    affinity: function (a) {
      return barsPerGroup(a, function (part) { return part.pairs.map(function (p) { return p.a + " + " + p.b; }); },
                          function (part) { return part.pairs.map(field("orders")); });
    },
    geography: function (a) {
      return barsPerGroup(a, function (part) { return part.places.map(function (p) { return label(p.place); }); },
                          function (part) { return part.places.map(field("users")); });
    }
  };

  function draw(element, answer, chart) {
    var option = CHARTS[answer.report](answer);
    // A new chart for every answer: ECharts fails replacing some components (a legend of another
    // type) in a chart that drew a different report before.
    if (chart) { chart.dispose(); }
    var drawn = window.echarts.init(element, null, { renderer: "canvas" });
    drawn.setOption(option);
    return drawn;
  }

  // -- building the request from the explorer's fields ------------------------------------------

  function scalar(text) {
    var trimmed = text.trim();
    if (trimmed === "true") { return true; }
    if (trimmed === "false") { return false; }
    if (trimmed !== "" && !isNaN(Number(trimmed))) { return Number(trimmed); }
    return trimmed;
  }

  function comparison(operator, text) {
    if (operator === "exists" || operator === "not_exists") { return { operator: operator }; }
    var value = operator === "contains" ? text.trim() : scalar(text);
    return { operator: operator, value: value };
  }

  function number(form, name) { return Number(form.elements[name].value); }

  function value(form, name) { return form.elements[name].value.trim(); }

  function requestOf(form) {
    var kind = form.elements.report.value;
    var request = { report: kind };
    if (kind !== "live") {
      request.since = value(form, "since");
      request.until = value(form, "until");
    }
    if (kind === "events" || kind === "distribution") {
      if (value(form, "event")) { request.event = value(form, "event"); }
    }
    if (kind === "events") {
      request.measure = form.elements.measure.value;
      if (request.measure === "sum" || request.measure === "average") { request.property = value(form, "property"); }
    } else if (kind === "distribution") {
      request.of = form.elements.of.value;
      if (request.of === "property") { request.property = value(form, "property"); }
      request.buckets = number(form, "buckets");
    } else if (kind === "funnel") {
      request.steps = form.elements.steps.value.split("\n").map(function (line) { return line.trim(); })
        .filter(function (line) { return line !== ""; }).map(function (line) { return { event: line }; });
      request.window_minutes = number(form, "window_days") * 24 * 60;
    } else if (kind === "retention") {
      request.period = form.elements.period.value;
      request.periods = number(form, "periods");
    } else if (kind === "paths") {
      request.from = value(form, "from");
      request.direction = form.elements.direction.value;
      request.depth = number(form, "depth");
      request.top = number(form, "top");
    } else if (kind === "sessions") {
      request.session_timeout_minutes = number(form, "session_timeout_minutes");
    } else if (kind === "geography") {
      request.level = form.elements.level.value;
    }
    var where = [];
    for (var n = 0; n < 2; n++) {
      var property = value(form, "where_property_" + n);
      if (property) {
        where.push(Object.assign({ property: property },
                                 comparison(form.elements["where_operator_" + n].value, form.elements["where_value_" + n].value)));
      }
    }
    if (where.length) { request.where = where; }
    var users = [];
    if (form.elements.segment.value) { users.push({ type: "in_segment", segment_id: form.elements.segment.value }); }
    if (value(form, "trait")) {
      users.push(Object.assign({ type: "trait", trait: value(form, "trait") },
                               comparison(form.elements.trait_operator.value, form.elements.trait_value.value)));
    }
    if (users.length === 1) { request.filter = users[0]; }
    if (users.length > 1) { request.filter = { type: "and", conditions: users }; }
    var source = form.elements.group_source.value;
    var groupable = ["paths", "affinity", "geography", "live"].indexOf(kind) < 0;
    if (source && groupable) {
      request.group_by = source === "segment" ? { source: source, segment_id: form.elements.group_segment.value }
        : { source: source, path: value(form, "group_path") };
    }
    return request;
  }

  function shownFor(element, kind) {
    var kinds = element.dataset.kinds.split(" ");
    if (kinds[0].charAt(0) === "-") { return kinds.indexOf("-" + kind) < 0; }
    return kinds.indexOf(kind) >= 0;
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin", body: body,
      headers: { "Content-Type": "application/json", Accept: "application/json",
                 "X-CSRF-Token": csrfToken() }
    }).then(function (response) {
      if (response.status === 401) { window.location.assign("/console/login"); return null; }
      return response.json().then(function (payload) { return { ok: response.ok, status: response.status, body: payload }; });
    });
  }

  function csrfToken() {
    // base.html puts the token into htmx's request headers on <body>.
    var headers = document.body.getAttribute("hx-headers");
    return headers ? JSON.parse(headers)["X-CSRF-Token"] : "";
  }

  function problemText(body) {
    var message = body && body.error ? body.error.message : "the server could not answer";
    return message;
  }

  document.addEventListener("alpine:init", function () {
    window.Alpine.data("explorer", function () {
      return {
        about: "", heading: "", running: false, failed: false, failure: "", answered: false,
        saveFailed: false, saveFailure: "", savedHref: "", savedText: "",
        chart: null, answer: null, definition: null, kinds: {},

        init: function () {
          var data = dataOf("explorer-data") || { reports: [] };
          var self = this;
          data.reports.forEach(function (kind) { self.kinds[kind.report] = kind; });
          window.addEventListener("resize", this.resize.bind(this));
          this.compose({ target: null });
        },

        resize: function () { if (this.chart) { this.chart.resize(); } },

        compose: function (event) {
          var form = this.$refs.form;
          var kind = form.elements.report.value;
          this.about = this.kinds[kind] ? this.kinds[kind].about : "";
          form.querySelectorAll("[data-kinds]").forEach(function (element) { element.hidden = !shownFor(element, kind); });
          // A person editing the JSON keeps their text; any other field writes the JSON anew.
          if (event && event.target === form.elements.definition) { return; }
          form.elements.definition.value = JSON.stringify(requestOf(form), null, 2);
        },

        run: function () {
          var self = this;
          var text = this.$refs.form.elements.definition.value;
          var definition;
          try {
            definition = JSON.parse(text);
          } catch (error) {
            this.failed = true;
            this.failure = "The request is not valid JSON: " + error.message;
            return;
          }
          this.running = true;
          post(this.$root.dataset.run, text).then(function (result) {
            self.running = false;
            if (!result) { return; }
            if (!result.ok) {
              self.failed = true;
              self.failure = problemText(result.body);
              return;
            }
            self.failed = false;
            self.failure = "";
            self.show(result.body, definition);
          }).catch(function (error) {
            self.running = false;
            self.failed = true;
            self.failure = "Could not run the report: " + error.message;
          });
        },

        show: function (answer, definition) {
          this.answer = answer;
          this.definition = definition;
          this.answered = true;
          var kind = this.kinds[answer.report];
          var previous = this.heading;
          this.heading = (kind ? kind.label : answer.report) + (answer.since ? ", " + answer.since + " to " + answer.until : "");
          var self = this;
          // Drawn once the section is visible, so ECharts measures its real size.
          this.$nextTick(function () {
            self.chart = draw(document.getElementById("report-chart"), answer, self.chart);
            self.chart.resize();
            fillTable(self.$root.querySelector(".report-table"), answer);
            // How many answers were drawn: lets a person's tools (and tests) tell a new answer from the last.
            self.$root.dataset.drawn = String(Number(self.$root.dataset.drawn || 0) + 1);
          });
          var title = this.$root.querySelector("[name=title]");
          // The title follows the report until the person writes their own.
          if (!title.value || title.value === previous) { title.value = this.heading; }
        },

        save: function () {
          var self = this;
          var form = this.$root.querySelector(".save-form");
          var body = { title: form.elements.title.value, definition: this.definition,
                       dashboard_id: form.elements.dashboard_id.value || null,
                       new_dashboard: form.elements.new_dashboard.value };
          post(this.$root.dataset.save, JSON.stringify(body)).then(function (result) {
            if (!result) { return; }
            if (!result.ok) {
              self.saveFailed = true;
              self.saveFailure = problemText(result.body);
              return;
            }
            self.saveFailed = false;
            self.saveFailure = "";
            self.savedHref = result.body.dashboard.href;
            self.savedText = "Saved to " + result.body.dashboard.name + ": open the dashboard";
            var select = form.elements.dashboard_id;
            if (!body.dashboard_id) {
              var option = document.createElement("option");
              option.value = result.body.dashboard.id;
              option.textContent = result.body.dashboard.name;
              select.insertBefore(option, select.firstChild);
              select.value = option.value;
              form.elements.new_dashboard.value = "";
            }
          }).catch(function (error) {
            self.saveFailed = true;
            self.saveFailure = "Could not save: " + error.message;
          });
        }
      };
    });

    window.Alpine.data("dashboard", function () {
      return {
        charts: [],

        init: function () {
          var data = dataOf("dashboard-data") || { reports: [] };
          var self = this;
          data.reports.forEach(function (report) {
            if (!report.answer) { return; }
            var element = document.getElementById("chart-" + report.id);
            var table = document.getElementById("table-" + report.id);
            if (element && window.echarts) { self.charts.push(draw(element, report.answer, null)); }
            if (table) { fillTable(table, report.answer); }
          });
          window.addEventListener("resize", this.resize.bind(this));
        },

        resize: function () { this.charts.forEach(function (chart) { chart.resize(); }); },

        confirmDelete: function (event) {
          var submitted = event || this.$event;
          if (!window.confirm("Delete this dashboard and its saved reports?")) { submitted.preventDefault(); }
        }
      };
    });
  });
})();
