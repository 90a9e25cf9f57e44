"""The weekly report (issue 17): figures for one route's week, as HTML with SVG charts, as
PDF, and as a notification sent through the route like a page.

  facts     the week's figures from the store, typed (:func:`gather`)
  text      words and number formats in zh-TW and en
  html      the HTML document and the notification (:func:`report_html`, :func:`report_message`)
  pdf       HTML to PDF with headless Chromium (:func:`html_to_pdf`)
  schedule  ``report_at``: when a route's report is due, and queueing it (:class:`WeeklyReports`)
"""
from monitor.report.facts import GoldenHour, WeeklyReport, gather, nearest_rank, week_bounds
from monitor.report.html import report_html, report_message
from monitor.report.pdf import PdfError, find_chromium, html_to_pdf
from monitor.report.schedule import WeeklyReports, build, report_due, send_report

__all__ = ["GoldenHour", "PdfError", "WeeklyReport", "WeeklyReports", "build", "find_chromium", "gather",
           "html_to_pdf", "nearest_rank", "report_due", "report_html", "report_message", "send_report",
           "week_bounds"]
