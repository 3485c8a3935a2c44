// Command command is the ticket write service: it validates writes, stores
// them in Postgres with their events in the outbox, and relays the outbox to
// NATS JetStream. `command --help` lists its subcommands and variables.
package main

import "github.com/ticketsys/ticketsys/services/command/internal/service"

func main() { service.App.Main() }
