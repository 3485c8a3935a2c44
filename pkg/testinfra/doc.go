// Package testinfra gives the services' tests real PostgreSQL, Redis and NATS servers, and a few helpers
// that make such tests fast and deterministic.
//
// Where the servers come from (the contract's "make test" paragraph): the TEST_DATABASE_URL, TEST_REDIS_URL
// and TEST_NATS_URL variables if set; else the local defaults (127.0.0.1:5432, :6379, :4222) if they answer
// within about a second; else containers started through testcontainers-go when a Docker engine answers.
// With none of these the test fails with a message that says what is missing. Tests are never skipped:
// a silently skipped integration test is a test that never runs.
//
// Every finder answers once per test process (the answer is cached), so hundreds of tests pay for the
// probes once.
package testinfra
