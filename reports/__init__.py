"""Report templates: parameterised papermill notebooks, shipped in the wheel as `twinlab.report_templates`.

Run one with `twinlab report NAME -p key=value` or `twinlab.reports.run_report`; runs land in reports/out/ (git-ignored)."""
