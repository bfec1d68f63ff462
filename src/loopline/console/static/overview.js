// The overview page: draws events per minute with ECharts and refreshes every figure from the
// page's JSON. Served as a file: the console's Content-Security-Policy allows no inline script.
(function () {
  "use strict";

  function initial() {
    var node = document.getElementById("overview-data");
    return node ? JSON.parse(node.textContent) : null;
  }

  function chartOption(data) {
    var series = data.activity.series || [];
    return {
      animation: false,
      grid: { left: 40, right: 16, top: 16, bottom: 32 },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: series.map(function (p) { return p.minute.slice(11, 16); }) },
      yAxis: { type: "value", minInterval: 1 },
      series: [{ name: "events", type: "line", smooth: false, showSymbol: false, areaStyle: {},
                 data: series.map(function (p) { return p.events; }) }]
    };
  }

  function showChannels(byChannel) {
    var list = document.querySelector("[data-testid=channels]");
    if (!list) { return; }
    list.replaceChildren();
    Object.keys(byChannel).forEach(function (channel) {
      var item = document.createElement("li");
      var name = document.createElement("span");
      var count = document.createElement("span");
      name.textContent = channel;
      count.className = "num";
      count.textContent = String(byChannel[channel]);
      item.append(name, " ", count);
      list.append(item);
    });
  }

  function showSources(sources) {
    var list = document.querySelector("[data-testid=credited-sources]");
    if (!list) { return; }
    list.replaceChildren();
    sources.forEach(function (source) {
      var item = document.createElement("li");
      var name = document.createElement("span");
      var count = document.createElement("span");
      name.textContent = source.name;
      count.className = "num";
      count.textContent = String(source.orders);
      item.append(name, " ", count);
      list.append(item);
    });
  }

  // The same words as the server's first rendering (overview.share_text).
  function shareText(conversions) {
    if (conversions.attributed_share === null) { return "no orders yet"; }
    return (conversions.attributed_share * 100).toFixed(1) + " % of " + conversions.orders + " orders";
  }

  // The chart lives outside the component's reactive data: Alpine would wrap the ECharts
  // instance in a proxy, and ECharts fails on its own objects seen through one.
  var chart = null;

  document.addEventListener("alpine:init", function () {
    window.Alpine.data("overview", function () {
      return {
        updated: "", eventsHour: 0, dau: 0, mau: 0, newCustomers: 0, messagesToday: 0,
        attributedOrders: 0, attributedRevenue: "0.00", attributedShare: "",
        failed: false, failure: "",
        timer: null,

        init: function () {
          var data = initial();
          var element = document.getElementById("activity-chart");
          if (element && window.echarts) {
            chart = window.echarts.init(element, null, { renderer: "canvas" });
            window.addEventListener("resize", this.resize.bind(this));
          }
          if (data) {
            this.show(data);
            this.timer = window.setInterval(this.refresh.bind(this), data.refresh_seconds * 1000);
          }
        },

        resize: function () { if (chart) { chart.resize(); } },

        show: function (data) {
          this.updated = data.generated_at.slice(11, 19) + " UTC";
          this.eventsHour = data.activity.total;
          this.dau = data.users.dau;
          this.mau = data.users.mau;
          this.newCustomers = data.users.new_customers;
          this.messagesToday = data.messages_today.total;
          showChannels(data.messages_today.by_channel);
          this.attributedOrders = data.conversions.attributed_orders;
          this.attributedRevenue = data.conversions.attributed_revenue.toFixed(2);
          this.attributedShare = shareText(data.conversions);
          showSources(data.conversions.by_source);
          if (chart) { chart.setOption(chartOption(data)); }
        },

        refresh: function () {
          var self = this;
          fetch(this.$root.dataset.source, { headers: { Accept: "application/json" }, credentials: "same-origin" })
            .then(function (response) {
              if (response.status === 401) { window.location.assign("/console/login"); return null; }
              if (!response.ok) { throw new Error("the server answered " + response.status); }
              return response.json();
            })
            .then(function (data) {
              if (data) { self.failed = false; self.failure = ""; self.show(data); }
            })
            .catch(function (error) {
              self.failed = true;
              self.failure = "Could not refresh: " + error.message;
            });
        }
      };
    });
  });
})();
