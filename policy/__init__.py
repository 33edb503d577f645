"""Policy: the rules, score bands and lists that turn a score into a decision.

policy file (YAML) -> `loader` (schema, expressions, types) -> compiled `Policy` -> `decide`.
"""
