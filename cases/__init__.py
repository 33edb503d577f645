"""The review queue: cases opened by decisions in review (or as the policy says), worked by
analysts, resolved into labels. Sits between `scoring` and `service`."""
