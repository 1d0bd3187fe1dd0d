"""`make report`: docs/results.md, its plots and README's generated blocks from the flows' JSON.

Every measured number in the documentation comes from here. `python -m report` copies the JSON
each flow wrote under build/ into docs/results/ (committed, stable names: report.sources),
renders docs/results.md and its PNG plots from those copies (report.render, which calls each
flow's own renderer), and rewrites the blocks between `<!-- report:NAME -->` markers in
README.md (report.readme). `python -m report --targets FILE` compares the numbers with a user's
own thresholds (report.targets); `python -m report.timing NAME -- CMD` records a command's wall
time for the "Command times" section.
"""
