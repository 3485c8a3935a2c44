package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ticketsys/ticketsys/client/api"
)

// The API's types, under the names a caller uses.
type (
	Ticket       = api.Ticket
	TicketCreate = api.TicketCreate
	TicketUpdate = api.TicketUpdate
	Status       = api.TicketStatus
	Priority     = api.TicketPriority
	FieldError   = api.FieldError
)

// The ticket statuses and priorities.
const (
	StatusOpen       Status   = "open"
	StatusInProgress Status   = "in_progress"
	StatusResolved   Status   = "resolved"
	StatusClosed     Status   = "closed"
	PriorityLow      Priority = "low"
	PriorityMedium   Priority = "medium"
	PriorityHigh     Priority = "high"
	PriorityUrgent   Priority = "urgent"
)

// Client talks to the ticketsys API. It is safe for concurrent use.
type Client struct {
	write, read *api.ClientWithResponses
	opts        options
}

type options struct {
	token        string
	readURL      string
	http         *http.Client
	maxRetries   int
	maxRetryWait time.Duration
}

// Option configures New.
type Option func(*options)

// WithToken sends token as the bearer token of every request.
func WithToken(token string) Option { return func(o *options) { o.token = token } }

// WithHTTPClient sends the requests through h (default: a client with a
// 30 s timeout).
func WithHTTPClient(h *http.Client) Option { return func(o *options) { o.http = h } }

// WithReadURL sends reads (GET) to url instead of the base URL: to talk to
// the query service directly rather than through the front door.
func WithReadURL(url string) Option { return func(o *options) { o.readURL = url } }

// WithRetries sets how often a request answered 503 with Retry-After is
// sent again (default 3; 0 never), and the longest wait between two sends
// (default 30 s; a longer Retry-After ends the retries).
func WithRetries(n int, maxWait time.Duration) Option {
	return func(o *options) { o.maxRetries, o.maxRetryWait = n, maxWait }
}

// New returns a client of the API at baseURL (the front door, such as
// http://localhost:8000, or the command service when reads go elsewhere).
func New(baseURL string, opts ...Option) (*Client, error) {
	o := options{http: &http.Client{Timeout: 30 * time.Second}, maxRetries: 3, maxRetryWait: 30 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	if o.readURL == "" {
		o.readURL = baseURL
	}
	doer := &retrying{next: o.http, max: o.maxRetries, maxWait: o.maxRetryWait}
	auth := api.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
		if o.token != "" {
			req.Header.Set("Authorization", "Bearer "+o.token)
		}
		return nil
	})
	w, err := api.NewClientWithResponses(baseURL, api.WithHTTPClient(doer), auth)
	if err != nil {
		return nil, err
	}
	r, err := api.NewClientWithResponses(o.readURL, api.WithHTTPClient(doer), auth)
	if err != nil {
		return nil, err
	}
	return &Client{write: w, read: r, opts: o}, nil
}

// Error is an answer other than the one asked for, with its problem+json
// details (RFC 9457) when it had them.
type Error struct {
	StatusCode int
	Type       string
	Title      string
	Detail     string
	RequestID  string // X-Request-ID, to find the request in the logs
	Errors     []FieldError
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("ticketsys: %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.Detail != "" {
		msg += ": " + e.Detail
	} else if e.Title != "" {
		msg += ": " + e.Title
	}
	for _, f := range e.Errors {
		msg += fmt.Sprintf("; %s: %s", f.Field, f.Message)
	}
	return msg
}

// StatusCode returns err's HTTP status when it is an *Error, else 0.
func StatusCode(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.StatusCode
	}
	return 0
}

func errorOf(res *http.Response, body []byte) error {
	e := &Error{StatusCode: res.StatusCode, RequestID: res.Header.Get("X-Request-ID")}
	var p api.Problem
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/problem+json") && json.Unmarshal(body, &p) == nil {
		e.Type, e.Title = p.Type, p.Title
		if p.Detail != nil {
			e.Detail = *p.Detail
		}
		if p.Errors != nil {
			e.Errors = *p.Errors
		}
	}
	return e
}

// WriteOption changes one create, change or delete.
type WriteOption func(*writeOpts)

type writeOpts struct {
	ifMatch        string
	idempotencyKey string
}

// IfVersion makes a change or delete conditional (If-Match): it is done only
// while the ticket is at version v, and is a 412 *Error otherwise.
func IfVersion(v int64) WriteOption {
	return func(o *writeOpts) { o.ifMatch = strconv.Quote(strconv.FormatInt(v, 10)) }
}

// WithIdempotencyKey sends key as the create's Idempotency-Key instead of a
// new random one: the same key and body within 24 hours create one ticket.
func WithIdempotencyKey(key string) WriteOption {
	return func(o *writeOpts) { o.idempotencyKey = key }
}

func writeOptions(opts []WriteOption) writeOpts {
	var o writeOpts
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

func ticketID(id string) (api.TicketID, error) {
	u, err := uuid.Parse(id)
	if err != nil {
		return u, fmt.Errorf("ticketsys: ticket id %q is not a UUID", id)
	}
	return u, nil
}

// Get reads a ticket.
func (c *Client) Get(ctx context.Context, id string) (Ticket, error) {
	u, err := ticketID(id)
	if err != nil {
		return Ticket{}, err
	}
	res, err := c.read.GetTicketWithResponse(ctx, u, &api.GetTicketParams{})
	if err != nil {
		return Ticket{}, err
	}
	if res.JSON200 == nil {
		return Ticket{}, errorOf(res.HTTPResponse, res.Body)
	}
	return *res.JSON200, nil
}

// Create creates a ticket, with an Idempotency-Key (a new one unless
// WithIdempotencyKey names it), so a retried create never makes two.
func (c *Client) Create(ctx context.Context, t TicketCreate, opts ...WriteOption) (Ticket, error) {
	o := writeOptions(opts)
	if o.idempotencyKey == "" {
		o.idempotencyKey = uuid.NewString()
	}
	res, err := c.write.CreateTicketWithResponse(ctx, &api.CreateTicketParams{IdempotencyKey: &o.idempotencyKey}, t)
	if err != nil {
		return Ticket{}, err
	}
	if res.JSON201 == nil {
		return Ticket{}, errorOf(res.HTTPResponse, res.Body)
	}
	return *res.JSON201, nil
}

// Update changes the fields u sets (PATCH); IfVersion makes it conditional.
func (c *Client) Update(ctx context.Context, id string, u TicketUpdate, opts ...WriteOption) (Ticket, error) {
	tid, err := ticketID(id)
	if err != nil {
		return Ticket{}, err
	}
	o := writeOptions(opts)
	params := &api.UpdateTicketParams{}
	if o.ifMatch != "" {
		params.IfMatch = &o.ifMatch
	}
	res, err := c.write.UpdateTicketWithResponse(ctx, tid, params, u)
	if err != nil {
		return Ticket{}, err
	}
	if res.JSON200 == nil {
		return Ticket{}, errorOf(res.HTTPResponse, res.Body)
	}
	return *res.JSON200, nil
}

// Delete deletes a ticket; IfVersion makes it conditional.
func (c *Client) Delete(ctx context.Context, id string, opts ...WriteOption) error {
	tid, err := ticketID(id)
	if err != nil {
		return err
	}
	o := writeOptions(opts)
	params := &api.DeleteTicketParams{}
	if o.ifMatch != "" {
		params.IfMatch = &o.ifMatch
	}
	res, err := c.write.DeleteTicketWithResponse(ctx, tid, params)
	if err != nil {
		return err
	}
	if res.StatusCode() != http.StatusNoContent {
		return errorOf(res.HTTPResponse, res.Body)
	}
	return nil
}

// ListQuery filters and orders List; zero values are the API's defaults.
type ListQuery struct {
	Status   Status
	Assignee string
	SortBy   string // created_at (default), updated_at, priority or title
	Order    string // desc (default) or asc
	PageSize int    // tickets per request; the API's default when 0
}

// List yields every ticket that q selects, page by page, in the API's
// order. An error ends the sequence with (Ticket{}, err); breaking out of
// the loop stops the requests.
func (c *Client) List(ctx context.Context, q ListQuery) iter.Seq2[Ticket, error] {
	return func(yield func(Ticket, error) bool) {
		params := &api.ListTicketsParams{}
		if q.Status != "" {
			s := api.ListTicketsParamsStatus(q.Status)
			params.Status = &s
		}
		if q.Assignee != "" {
			params.Assignee = &q.Assignee
		}
		if q.SortBy != "" {
			s := api.ListTicketsParamsSortBy(q.SortBy)
			params.SortBy = &s
		}
		if q.Order != "" {
			o := api.ListTicketsParamsOrder(q.Order)
			params.Order = &o
		}
		if q.PageSize > 0 {
			params.Limit = &q.PageSize
		}
		for {
			res, err := c.read.ListTicketsWithResponse(ctx, params)
			if err == nil && res.JSON200 == nil {
				err = errorOf(res.HTTPResponse, res.Body)
			}
			if err != nil {
				yield(Ticket{}, err)
				return
			}
			for _, t := range res.JSON200.Items {
				if !yield(t, nil) {
					return
				}
			}
			next := res.JSON200.NextCursor
			if next == nil || *next == "" {
				return
			}
			params.Cursor = next
		}
	}
}
