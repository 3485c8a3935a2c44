package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/pkg/ticketcache"
)

// checkTickets audits ticket:{id} keys: each must hold the row's API JSON, or a tombstone
// with the version of the row's deletion.
func (au *auditor) checkTickets(ctx context.Context, keys []string, p *progress) ([]finding, error) {
	var out []finding
	for batch := range slices.Chunk(keys, auditBatch) {
		vals, err := getAll(ctx, au.rdb, batch)
		if err != nil {
			return nil, err
		}
		ids := make([]string, 0, len(batch))
		for _, k := range batch {
			if id, ok := au.ticketID(k); ok {
				ids = append(ids, id)
			}
		}
		var rows map[string]row
		err = readOnly(ctx, au.db, au.timeout, func(ctx context.Context, tx pgx.Tx) error {
			rows, err = loadTickets(ctx, tx, ids)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, k := range batch {
			v, ok := vals[k]
			if !ok {
				continue // expired or deleted since the scan: nothing is served from it
			}
			id, _ := au.ticketID(k)
			var r *row
			if rr, ok := rows[id]; ok {
				r = &rr
			}
			out = append(out, judgeTicket(k, v, r))
		}
		p.add(len(batch))
	}
	return out, nil
}

// ticketID is the canonical id in a ticket key; false when it is not a UUID (no row can match).
func (au *auditor) ticketID(key string) (string, bool) {
	id, err := uuid.Parse(strings.TrimPrefix(key, au.keys.Ticket("")))
	if err != nil {
		return "", false
	}
	return id.String(), true
}

func judgeTicket(key string, val []byte, r *row) finding {
	f := finding{Key: key, Kind: kindTicket, Verdict: verdictStale}
	if tomb, err := ticketcache.ParseEntry(val); err == nil && tomb.Deleted {
		switch {
		case r == nil:
			f.Reason = fmt.Sprintf("tombstone v%d for an id with no row (another database?)", tomb.Version)
		case !r.deleted:
			f.Reason = fmt.Sprintf("tombstone v%d but the ticket is live at v%d", tomb.Version, r.t.Version)
		case r.t.Version != tomb.Version:
			f.Reason = fmt.Sprintf("tombstone v%d but the row was deleted at v%d", tomb.Version, r.t.Version)
		default:
			f.Verdict = verdictFresh
		}
		return f
	}
	cached, err := decodeTicket(val)
	switch {
	case err != nil:
		f.Reason = "not a ticket or tombstone: " + err.Error()
	case r == nil:
		f.Reason = fmt.Sprintf("cached v%d of an id with no row (another database?)", cached.Version)
	case r.deleted:
		f.Reason = fmt.Sprintf("serves v%d but the ticket was deleted at v%d", cached.Version, r.t.Version)
	default:
		if diff := ticketDiff(cached, r.t); diff != "" {
			f.Reason = diff
		} else {
			f.Verdict = verdictFresh
		}
	}
	return f
}

// decodeTicket reads a cached ticket strictly: a field the API does not have is a difference.
func decodeTicket(b []byte) (ticket.Ticket, error) {
	var t ticket.Ticket
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return t, err
	}
	return t, nil
}

// ticketDiff says how a cached ticket differs from the row ("" when it does not).
func ticketDiff(cached, db ticket.Ticket) string {
	fields := ticket.ChangedFields(cached, db)
	if (cached.Tags == nil) != (db.Tags == nil) && !slices.Contains(fields, "tags") {
		fields = append(fields, "tags") // null and [] are different JSON
	}
	if cached.ID != db.ID {
		fields = append(fields, "id")
	}
	if !cached.CreatedAt.Equal(db.CreatedAt) {
		fields = append(fields, "created_at")
	}
	if !cached.UpdatedAt.Equal(db.UpdatedAt) {
		fields = append(fields, "updated_at")
	}
	switch {
	case cached.Version > db.Version:
		return fmt.Sprintf("cached v%d is ahead of the row's v%d", cached.Version, db.Version)
	case cached.Version < db.Version:
		return fmt.Sprintf("cached v%d, row is at v%d (differs in %s)", cached.Version, db.Version, orNone(fields))
	case len(fields) > 0:
		return fmt.Sprintf("same version v%d but differs in %s", db.Version, strings.Join(fields, ", "))
	}
	return ""
}

func orNone(fields []string) string {
	if len(fields) == 0 {
		return "no field"
	}
	return strings.Join(fields, ", ")
}
