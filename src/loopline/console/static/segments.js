// A segment's page: its members at each refresh as a line, with who entered and who left as bars.
// Served as a file: the console's Content-Security-Policy allows no inline script.
(function () {
  "use strict";

  var source = document.getElementById("segment-counts");
  var element = document.getElementById("counts-chart");
  if (!source || !element || !window.echarts) { return; }
  var counts = JSON.parse(source.textContent);
  var chart = window.echarts.init(element, null, { renderer: "canvas" });
  chart.setOption({
    animation: false,
    legend: { top: 0 },
    tooltip: { trigger: "axis" },
    grid: { left: 48, right: 16, top: 32, bottom: 32 },
    xAxis: { type: "category", data: counts.map(function (point) { return point.at.slice(0, 16).replace("T", " "); }) },
    yAxis: { type: "value", minInterval: 1 },
    series: [
      { name: "members", type: "line", showSymbol: counts.length < 40, symbolSize: 8, areaStyle: { opacity: 0.15 },
        data: counts.map(function (point) { return point.members; }) },
      { name: "entered", type: "bar", barMaxWidth: 16, data: counts.map(function (point) { return point.entered; }) },
      { name: "left", type: "bar", barMaxWidth: 16, data: counts.map(function (point) { return point.exited; }) }
    ]
  });
  window.addEventListener("resize", function () { chart.resize(); });
})();
