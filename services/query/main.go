// Command query is the ticket read service: it answers reads from Redis,
// cache-aside, falling back to Postgres (a read replica in production) on a
// miss or when Redis is down. `query --help` lists its variables.
package main

import "github.com/ticketsys/ticketsys/services/query/internal/service"

func main() { service.App.Main() }
