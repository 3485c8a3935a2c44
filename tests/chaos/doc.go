// Package chaos is the reliability suite (make chaos, make chaos-cluster):
// the services run as processes, their connections to Postgres, Redis and
// NATS pass through Toxiproxy, and each scenario breaks one part under a
// steady mixed load, then audits what the system promised: no acknowledged
// write lost, one event per change in order per ticket, a cache that
// converges to Postgres, reads that go on without Redis.
//
// The tests live in _test.go files; make test runs every scenario once in a
// short form, CHAOS=full (make chaos) at the durations.
package chaos
