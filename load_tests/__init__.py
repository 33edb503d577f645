"""HTTP load tests of the running service: traffic drawn from the simulator, an open-loop
generator free of coordinated omission (`riskscore loadtest`), reports, `make bench`, soak and
fault runs, and a Locust file. load_tests/README.md says how to run each."""
