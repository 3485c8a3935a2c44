package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ticketsys/ticketsys/client"
)

// apiEnv is where the tickets commands send their requests, and as whom.
type apiEnv struct {
	URL     string `env:"TICKETSYS_URL" envDefault:"http://localhost:8000"`
	ReadURL string `env:"TICKETSYS_READ_URL"` // the query service, when not through the front door
	Token   string `env:"TICKETSYS_TOKEN"`
}

// apiFlags are the tickets commands' connection flags.
type apiFlags struct {
	timeout time.Duration
}

func (a *app) ticketsCmd() *cobra.Command {
	var f apiFlags
	cmd := groupCmd("tickets", "Read, create, change and delete tickets through the API",
		`Work with tickets through the HTTP API, with the typed Go client (module
github.com/ticketsys/ticketsys/client): TICKETSYS_URL is the front door (or the command service, with
TICKETSYS_READ_URL the query service). TICKETSYS_TOKEN is the bearer token; without it, a token for
subject ticketctl with tickets:read and tickets:write is signed for each command with
AUTH_PRIVATE_KEY_FILE or AUTH_JWT_SECRET, as ticketctl token does. A 503 with Retry-After is retried
when the request is safe to repeat (creates carry an Idempotency-Key).`)
	cmd.PersistentFlags().DurationVar(&f.timeout, "timeout", 30*time.Second, "limit for each request")
	cmd.AddCommand(a.ticketsGetCmd(&f), a.ticketsListCmd(&f), a.ticketsCreateCmd(&f), a.ticketsUpdateCmd(&f),
		a.ticketsDeleteCmd(&f))
	return cmd
}

// apiClient builds the client from the environment.
func (a *app) apiClient(f *apiFlags) (*client.Client, error) {
	env, err := a.env()
	if err != nil {
		return nil, err
	}
	if f.timeout <= 0 {
		return nil, usagef("--timeout must be positive, got %s", f.timeout)
	}
	token := env.API.Token
	if token == "" {
		signer, err := env.Token.signer()
		if err != nil {
			return nil, usagef("TICKETSYS_TOKEN is unset and no token can be signed: %v", err)
		}
		ttl := min(5*time.Minute, env.Token.MaxLifetime)
		if token, err = signer.Mint("ticketctl", scopeValues, ttl,
			env.Token.Issuer, env.Token.Audience); err != nil {
			return nil, err
		}
	}
	return client.New(env.API.URL, client.WithToken(token), client.WithReadURL(env.API.ReadURL),
		client.WithHTTPClient(&http.Client{Timeout: f.timeout}))
}

// printTicket writes t as indented JSON.
func (a *app) printTicket(t client.Ticket) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(t)
}

func (a *app) ticketsGetCmd(f *apiFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "get ID",
		Short: "Print a ticket as JSON",
		Args:  cobra.ExactArgs(1),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			c, err := a.apiClient(f)
			if err != nil {
				return err
			}
			t, err := c.Get(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.printTicket(t)
		}),
	}
}

func (a *app) ticketsListCmd(f *apiFlags) *cobra.Command {
	var (
		q      client.ListQuery
		status string
		most   int
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "list [--status S] [--assignee NAME] [--sort-by FIELD] [--order asc|desc] [--max N] [--json]",
		Short: "List tickets, every page, one line each (or one JSON object per line)",
		Args:  cobra.NoArgs,
		RunE: a.action(func(cmd *cobra.Command, _ []string) error {
			if most < 0 || q.PageSize < 0 {
				return usagef("--max and --page-size must not be negative")
			}
			c, err := a.apiClient(f)
			if err != nil {
				return err
			}
			q.Status = client.Status(status)
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			enc := json.NewEncoder(a.stdout)
			if !asJSON {
				fmt.Fprintln(tw, "ID\tVERSION\tSTATUS\tPRIORITY\tASSIGNEE\tTITLE")
			}
			n := 0
			for t, err := range c.List(cmd.Context(), q) {
				if err != nil {
					_ = tw.Flush()
					return err
				}
				if asJSON {
					if err := enc.Encode(t); err != nil {
						return err
					}
				} else {
					fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", t.Id, t.Version, t.Status, t.Priority, t.Assignee,
						strings.ReplaceAll(t.Title, "\t", " "))
				}
				if n++; most > 0 && n >= most {
					break
				}
			}
			return tw.Flush()
		}),
	}
	fl := cmd.Flags()
	fl.StringVar(&status, "status", "", "only this status (open, in_progress, resolved, closed)")
	fl.StringVar(&q.Assignee, "assignee", "", "only tickets assigned to NAME")
	fl.StringVar(&q.SortBy, "sort-by", "", "created_at (default), updated_at, priority or title")
	fl.StringVar(&q.Order, "order", "", "desc (default) or asc")
	fl.IntVar(&q.PageSize, "page-size", 0, "tickets per request (default: the API's)")
	fl.IntVar(&most, "max", 0, "stop after N tickets (default: all)")
	fl.BoolVar(&asJSON, "json", false, "one JSON object per line")
	completeValues(cmd, "status", statusValues)
	completeValues(cmd, "sort-by", sortByValues)
	completeValues(cmd, "order", orderValues)
	return cmd
}

// fieldFlags are the writable fields; only flags given are sent.
type fieldFlags struct {
	title, description, status, priority, assignee string
	tags                                           []string
}

func (ff *fieldFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&ff.title, "title", "", "title")
	fl.StringVar(&ff.description, "description", "", "description")
	fl.StringVar(&ff.status, "status", "", "open, in_progress, resolved or closed")
	fl.StringVar(&ff.priority, "priority", "", "low, medium, high or urgent")
	fl.StringVar(&ff.assignee, "assignee", "", "assignee")
	fl.StringSliceVar(&ff.tags, "tag", nil, "a tag (repeat, or comma-separated)")
	completeValues(cmd, "status", statusValues)
	completeValues(cmd, "priority", priorityValues)
}

// update returns the fields whose flags were given.
func (ff *fieldFlags) update(cmd *cobra.Command) client.TicketUpdate {
	var u client.TicketUpdate
	changed := cmd.Flags().Changed
	if changed("title") {
		u.Title = &ff.title
	}
	if changed("description") {
		u.Description = &ff.description
	}
	if changed("status") {
		s := client.Status(ff.status)
		u.Status = &s
	}
	if changed("priority") {
		p := client.Priority(ff.priority)
		u.Priority = &p
	}
	if changed("assignee") {
		u.Assignee = &ff.assignee
	}
	if changed("tag") {
		u.Tags = &ff.tags
	}
	return u
}

func (a *app) ticketsCreateCmd(f *apiFlags) *cobra.Command {
	var (
		ff  fieldFlags
		key string
	)
	cmd := &cobra.Command{
		Use:   "create --title TITLE [--description D] [--priority P] [--assignee NAME] [--tag T]...",
		Short: "Create a ticket and print it as JSON",
		Long: `Create a ticket and print it as JSON. The create carries an Idempotency-Key, a new one
unless --idempotency-key names it: the same key and fields within 24 hours create one ticket.`,
		Args: cobra.NoArgs,
		RunE: a.action(func(cmd *cobra.Command, _ []string) error {
			if strings.TrimSpace(ff.title) == "" {
				return usagef("--title is required")
			}
			c, err := a.apiClient(f)
			if err != nil {
				return err
			}
			u := ff.update(cmd)
			var opts []client.WriteOption
			if key != "" {
				opts = append(opts, client.WithIdempotencyKey(key))
			}
			t, err := c.Create(cmd.Context(), client.TicketCreate{Title: ff.title, Description: u.Description,
				Status: u.Status, Priority: u.Priority, Assignee: u.Assignee, Tags: u.Tags}, opts...)
			if err != nil {
				return err
			}
			return a.printTicket(t)
		}),
	}
	ff.register(cmd)
	cmd.Flags().StringVar(&key, "idempotency-key", "", "the create's Idempotency-Key (default: a new one)")
	return cmd
}

func (a *app) ticketsUpdateCmd(f *apiFlags) *cobra.Command {
	var (
		ff        fieldFlags
		ifVersion int64
	)
	cmd := &cobra.Command{
		Use:   "update ID [--title T] [--status S] [--priority P] [--assignee NAME] [--tag T]... [--if-version N]",
		Short: "Change the given fields of a ticket and print it as JSON",
		Long: `Change the fields whose flags are given (PATCH) and print the ticket as JSON. With
--if-version N the change is made only while the ticket is at version N (If-Match), and fails
with 412 otherwise.`,
		Args: cobra.ExactArgs(1),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			u := ff.update(cmd)
			if u == (client.TicketUpdate{}) {
				return usagef("give at least one field to change")
			}
			c, err := a.apiClient(f)
			if err != nil {
				return err
			}
			t, err := c.Update(cmd.Context(), args[0], u, versionOption(cmd, ifVersion)...)
			if err != nil {
				return err
			}
			return a.printTicket(t)
		}),
	}
	ff.register(cmd)
	cmd.Flags().Int64Var(&ifVersion, "if-version", 0, "change only while the ticket is at this version")
	return cmd
}

func (a *app) ticketsDeleteCmd(f *apiFlags) *cobra.Command {
	var ifVersion int64
	cmd := &cobra.Command{
		Use:   "delete ID [--if-version N]",
		Short: "Delete a ticket",
		Args:  cobra.ExactArgs(1),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			c, err := a.apiClient(f)
			if err != nil {
				return err
			}
			if err := c.Delete(cmd.Context(), args[0], versionOption(cmd, ifVersion)...); err != nil {
				return err
			}
			_, err = fmt.Fprintf(a.stdout, "deleted %s\n", args[0])
			return err
		}),
	}
	cmd.Flags().Int64Var(&ifVersion, "if-version", 0, "delete only while the ticket is at this version")
	return cmd
}

func versionOption(cmd *cobra.Command, v int64) []client.WriteOption {
	if !cmd.Flags().Changed("if-version") {
		return nil
	}
	return []client.WriteOption{client.IfVersion(v)}
}
