"""Policy: the rules, score bands and lists that turn a score into a decision.

policy file (YAML) -> `loader` (`document` schema, `language` checks and back ends) ->
`Policy` -> `decide`.
"""
