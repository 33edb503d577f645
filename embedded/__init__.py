"""Private servers run as child processes: what the embedded defaults and the tests share."""
