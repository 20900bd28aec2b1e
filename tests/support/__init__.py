"""Helpers the project's own tests and benchmarks share: running the suite and flowlb as a user does,
the mutant catalogue, a private RabbitMQ, the processes and containers a test session left behind."""
