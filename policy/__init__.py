"""Policy: the rules, score bands and lists that turn a score into a decision.

policy file (YAML) -> `loader` (schema, expressions, types) -> compiled `Policy` -> `decide`;
its block and allow lists in `policy.lists`, what is published and served in `policy.publishing`.
"""
