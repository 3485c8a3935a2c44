// Package ticketapi is the command service's HTTP edge: it reads and checks
// requests, calls the use cases and maps their results and errors to the
// contract's statuses.
package ticketapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/ticketsys/ticketsys/pkg/auth"
	"github.com/ticketsys/ticketsys/pkg/httpx"
	"github.com/ticketsys/ticketsys/pkg/problem"
	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/services/command/internal/app"
)

// Handlers serve the ticket writes.
type Handlers struct {
	cmds *app.Commands
	errs *errorMapper
}

func actor(c *gin.Context) app.Actor {
	ctx := c.Request.Context()
	return app.Actor{Subject: auth.Subject(ctx), CorrelationID: httpx.RequestIDFrom(ctx)}
}

// readPatch decodes the body into a validated patch, answering the problem
// itself when the client got something wrong.
func readPatch(c *gin.Context, create bool) (app.Patch, bool) {
	in, err := decodeInput(c.GetHeader("Content-Type"), c.Request.Body)
	if err != nil {
		var bad *errBadInput
		if !errors.As(err, &bad) {
			problem.BadRequest(c, "the body could not be read")
			return app.Patch{}, false
		}
		if bad.fields != nil {
			problem.Write(c, problem.Problem{Status: bad.status, Detail: bad.detail, Errors: bad.fields,
				Type: problem.TypeValidation, Title: "Validation failed"})
		} else {
			problem.Status(c, bad.status, bad.detail)
		}
		return app.Patch{}, false
	}
	p, errs := in.toPatch(create)
	if len(errs) > 0 {
		problem.Validation(c, errs)
		return app.Patch{}, false
	}
	if !create && p.Empty() {
		// Nothing to change: without this, PATCH {} would be a way for a
		// token that may only write to read any ticket.
		problem.Validation(c, []problem.FieldError{{Field: "body", Message: "names no field to change"}})
		return app.Patch{}, false
	}
	return p, true
}

// ticketID reads the path id; ids are UUIDs, anything else is a 400.
func ticketID(c *gin.Context) (string, bool) {
	id, ok := ticket.ParseID(c.Param("id"))
	if !ok {
		problem.BadRequest(c, "the ticket id must be a UUID")
	}
	return id, ok
}

func writeTicket(c *gin.Context, status int, t ticket.Ticket) {
	body, err := json.Marshal(t)
	if err != nil {
		problem.Internal(c)
		return
	}
	c.Header("ETag", httpx.ETag(t.Version))
	c.Data(status, "application/json", body)
}

// create serves POST /tickets.
func (h *Handlers) create(c *gin.Context) {
	idem, ok := idempotencyKey(c)
	if !ok {
		return
	}
	p, ok := readPatch(c, true)
	if !ok {
		return
	}
	res, err := h.cmds.Create(c.Request.Context(), actor(c), p, idem)
	if err != nil {
		h.errs.write(c, err)
		return
	}
	if res.Replayed {
		c.Header("Idempotent-Replayed", "true")
	}
	c.Header("Location", "/tickets/"+res.Ticket.ID)
	writeTicket(c, http.StatusCreated, res.Ticket)
}

// idempotencyKey reads the optional Idempotency-Key header.
func idempotencyKey(c *gin.Context) (string, bool) {
	k := c.GetHeader("Idempotency-Key")
	if k == "" {
		return "", true
	}
	if len(k) > 255 || strings.IndexFunc(k, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0 {
		problem.BadRequest(c, "Idempotency-Key must be 1 to 255 visible ASCII characters")
		return "", false
	}
	return k, true
}

// update serves PUT and PATCH /tickets/{id}: both take any subset of fields.
func (h *Handlers) update(c *gin.Context) {
	id, ok := ticketID(c)
	if !ok {
		return
	}
	p, ok := readPatch(c, false)
	if !ok {
		return
	}
	t, err := h.cmds.Update(c.Request.Context(), actor(c), id, p, parseIfMatch(c.GetHeader("If-Match")))
	if err != nil {
		h.errs.write(c, err)
		return
	}
	writeTicket(c, http.StatusOK, t)
}

// remove serves DELETE /tickets/{id}.
func (h *Handlers) remove(c *gin.Context) {
	id, ok := ticketID(c)
	if !ok {
		return
	}
	if err := h.cmds.Delete(c.Request.Context(), actor(c), id, parseIfMatch(c.GetHeader("If-Match"))); err != nil {
		h.errs.write(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
