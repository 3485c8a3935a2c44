// Command cache-invalidator keeps the Redis cache in step with the ticket
// events: it consumes stream TICKETS with the durable consumer
// "cache-invalidator", refreshes ticket:{id} and invalidates the list pages a
// change affects. `cache-invalidator --help` lists its variables.
package main

import "github.com/ticketsys/ticketsys/services/cache-invalidator/internal/service"

func main() { service.App.Main() }
