// Package client is a typed Go client of the ticketsys API, the one behind
// the front door (api/openapi/ticketsys.yaml). It is a module of its own,
// so that using it pulls in none of the services.
//
//	c, err := client.New("http://127.0.0.1:8000", client.WithToken(token))
//	t, err := c.Create(ctx, client.TicketCreate{Title: "Printer jammed"})
//	t, err = c.Update(ctx, t.Id.String(), client.TicketUpdate{Status: ptr(client.StatusInProgress)},
//		client.IfVersion(t.Version))
//	for t, err := range c.List(ctx, client.ListQuery{Status: "open"}) { ... }
//
// What it adds to the generated code (package api):
//   - an answer of 503 with Retry-After is retried, after the time it names
//     (at most MaxRetryWait), when the request is safe to repeat: a read, a
//     create with its Idempotency-Key, a change or delete with If-Match;
//   - Create sends an Idempotency-Key of its own unless given one, so its
//     retries never create twice;
//   - IfVersion makes a change or delete conditional on the version read;
//   - List walks every page as an iterator;
//   - every error answer is an *Error with the problem+json details.
package client
