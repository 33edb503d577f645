"""The rule language: a `when` text checked once into typed nodes, run by two back ends.

`syntax` (parse, whitelist) -> `checker` (names from `fields`, types) -> `nodes` (the checked
form) -> `rowwise` + `expressions` (one generated function per policy, the score path) and
`columnwise` over `columns` (numpy, backtests and rule health).
"""
