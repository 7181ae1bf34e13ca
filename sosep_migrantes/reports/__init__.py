"""Protocol reports: the figures the institutions publish, as a page, PDF, XLSX and CSV."""
