// Package cloudevents reads the events the system publishes with the
// CloudEvents Go SDK (github.com/cloudevents/sdk-go) and its NATS JetStream
// protocol binding, as a third-party consumer would: the real command
// service writes tickets over HTTP against a database and a nats-server of
// the test's own, and every message on stream TICKETS must come through
// the binding with all its attributes.
//
// It is a module of its own to keep the SDK out of the system's module
// graph. The tests live in _test.go files.
package cloudevents
