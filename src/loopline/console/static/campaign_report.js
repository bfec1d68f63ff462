// A campaign's report: the funnel per group, and the conversion rate of each group with its 95 %
// interval (a box from the interval's low to its high end, the line at the rate). Served as a
// file: the console's Content-Security-Policy allows no inline script.
(function () {
  "use strict";

  var data = JSON.parse(document.getElementById("report-data").textContent);

  function percent(value) { return value === null || value === undefined ? null : value * 100; }

  function funnelOption() {
    var steps = data.funnel_steps;
    var groups = {};
    data.funnel.forEach(function (line) {
      var totals = groups[line.group] || (groups[line.group] = steps.map(function () { return 0; }));
      steps.forEach(function (step, index) { totals[index] += line[step] || 0; });
    });
    return {
      animation: false,
      legend: { top: 0 },
      tooltip: { trigger: "axis" },
      grid: { left: 48, right: 16, top: 32, bottom: 32 },
      xAxis: { type: "category", data: steps },
      yAxis: { type: "value", minInterval: 1 },
      series: Object.keys(groups).map(function (group) {
        return { name: group.replace(/_/g, " "), type: "bar", data: groups[group] };
      })
    };
  }

  function upliftOption(comparison) {
    var groups = comparison.groups;
    return {
      animation: false,
      tooltip: { trigger: "item" },
      grid: { left: 56, right: 16, top: 40, bottom: 32 },
      xAxis: { type: "category", data: groups.map(function (g) { return g.group.replace(/_/g, " "); }) },
      yAxis: { type: "value", name: "conversion %", axisLabel: { formatter: "{value} %" } },
      series: [{
        name: "conversion with 95 % interval", type: "boxplot",
        data: groups.map(function (g) {
          var outcome = g.outcomes.conversion;
          var low = percent(outcome.value_ci ? outcome.value_ci[0] : null);
          var high = percent(outcome.value_ci ? outcome.value_ci[1] : null);
          var value = percent(outcome.value);
          if (low === null || high === null) { low = value; high = value; }
          return [low, low, value, high, high];
        })
      }]
    };
  }

  function draw(id, option) {
    var element = document.getElementById(id);
    if (!element || !window.echarts) { return; }
    var chart = window.echarts.init(element, null, { renderer: "canvas" });
    chart.setOption(option);
    window.addEventListener("resize", function () { chart.resize(); });
  }

  draw("funnel-chart", funnelOption());
  var comparison = data.uplift && (data.uplift.variants_vs_control || data.uplift.treatment_vs_control);
  if (comparison) { draw("uplift-chart", upliftOption(comparison)); }
})();
