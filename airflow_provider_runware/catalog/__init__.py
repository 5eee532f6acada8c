"""The models Runware documents, as data: one table per task type, and the shape of a model's rules.

``rules`` holds the checks every task type's rules are built from; the tables say which values each
model takes and what it costs, each entry naming the page it came from.
"""
