// Package e2e runs the three services as real processes (command, query,
// cache-invalidator) against real Postgres, Redis and NATS, and checks the
// original guide's flow and the cache's convergence from the outside.
// The tests build the binaries from the workspace (go.work) in TestMain.
//
// The write-to-fresh latency is measured by
//
//	go test -run TestWriteToFreshLatency -v ./e2e
//	go test -run '^$' -bench WriteToFresh -benchtime 200x ./e2e
package e2e
