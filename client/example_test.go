package client_test

import (
	"context"
	"fmt"
	"os"

	"github.com/ticketsys/ticketsys/client"
)

// The example of docs/client.md; compiled by go test, not run (it needs the
// services).
func Example() {
	ctx := context.Background()
	if err := example(ctx); err != nil {
		fmt.Println(err)
	}
}

func example(ctx context.Context) error {
	c, err := client.New("http://127.0.0.1:8000", client.WithToken(os.Getenv("TOKEN")))
	if err != nil {
		return err
	}
	t, err := c.Create(ctx, client.TicketCreate{Title: "Printer on floor 3 is jammed"})
	if err != nil {
		return err
	}
	closed := client.StatusClosed
	if _, err = c.Update(ctx, t.Id.String(), client.TicketUpdate{Status: &closed}, client.IfVersion(t.Version)); err != nil {
		return err
	}
	for t, err := range c.List(ctx, client.ListQuery{Status: client.StatusOpen, PageSize: 50}) {
		if err != nil {
			return err
		}
		fmt.Println(t.Id, t.Version, t.Title)
	}
	return nil
}
