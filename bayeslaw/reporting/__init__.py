"""A budget question answered and written down: the question, its analysis, figures, the HTML and
Markdown pages, and the plain-text renderings the command line prints."""
