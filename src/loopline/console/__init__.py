"""The console: server-rendered pages for people who do not write code (Jinja2, HTMX, Alpine.js, ECharts)."""
