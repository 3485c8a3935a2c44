// Command floor is what make bench measures the services against: the bare
// parts each hot path is made of, with nothing of the project's around them.
// gin in release mode with no middleware, one go-redis GET written out as it
// is, one pgx query, one pgx transaction. It is built and run by the bench,
// on the same machine, in the same run.
//
//	GET  /tickets/:id   the bytes of ticket:{id} in Redis        (read hit)
//	GET  /list          the bytes of FLOOR_LIST_KEY in Redis      (list hit)
//	GET  /rows/:id      the tickets row by a bare query, as JSON (read miss)
//	POST /tickets       one transaction: the ticket and an outbox row (write)
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

type row struct {
	ID          string    `json:"id"`
	Title       string    `json:"title"`
	Description string    `json:"description"`
	Status      string    `json:"status"`
	Priority    string    `json:"priority"`
	Assignee    string    `json:"assignee"`
	Reporter    string    `json:"reporter"`
	Tags        []string  `json:"tags"`
	Version     int64     `json:"version"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ropts, err := redis.ParseURL(os.Getenv("REDIS_URL"))
	if err != nil {
		return err
	}
	rdb := redis.NewClient(ropts)
	defer rdb.Close()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		return err
	}
	defer pool.Close()
	prefix, listKey := os.Getenv("CACHE_KEY_PREFIX"), os.Getenv("FLOOR_LIST_KEY")

	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.GET("/tickets/:id", func(c *gin.Context) {
		b, err := rdb.Get(c, prefix+"ticket:"+c.Param("id")).Bytes()
		if err != nil {
			c.Status(http.StatusNotFound)
			return
		}
		c.Data(http.StatusOK, "application/json", b)
	})
	e.GET("/list", func(c *gin.Context) {
		b, err := rdb.Get(c, listKey).Bytes()
		if err != nil {
			c.Status(http.StatusNotFound)
			return
		}
		c.Data(http.StatusOK, "application/json", b)
	})
	e.GET("/rows/:id", func(c *gin.Context) {
		var r row
		err := pool.QueryRow(c, `SELECT id, title, description, status, priority, assignee, reporter, tags,
			version, created_at, updated_at FROM tickets WHERE id = $1`, c.Param("id")).Scan(&r.ID, &r.Title,
			&r.Description, &r.Status, &r.Priority, &r.Assignee, &r.Reporter, &r.Tags, &r.Version, &r.CreatedAt, &r.UpdatedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			c.Status(http.StatusNotFound)
			return
		}
		if err != nil {
			c.Status(http.StatusInternalServerError)
			return
		}
		b, _ := json.Marshal(r)
		c.Data(http.StatusOK, "application/json", b)
	})
	e.POST("/tickets", func(c *gin.Context) {
		var in struct {
			Title string `json:"title"`
		}
		body, err := c.GetRawData()
		if err != nil || json.Unmarshal(body, &in) != nil {
			c.Status(http.StatusBadRequest)
			return
		}
		now := time.Now().UTC()
		r := row{ID: uuid.Must(uuid.NewV7()).String(), Title: in.Title, Status: "open", Priority: "medium",
			Tags: []string{}, Version: 1, CreatedAt: now, UpdatedAt: now}
		err = pgx.BeginFunc(c, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(c, `INSERT INTO tickets (id, title, description, status, priority, assignee,
				reporter, tags, version, created_at, updated_at) VALUES ($1, $2, '', $3, $4, '', '', $5, 1, $6, $6)`,
				r.ID, r.Title, r.Status, r.Priority, r.Tags, now); err != nil {
				return err
			}
			_, err := tx.Exec(c, `INSERT INTO outbox (event_id, ticket_id, version, headers, payload)
				VALUES ($1, $2, 1, '{}', $3)`, uuid.Must(uuid.NewV7()), r.ID, body)
			return err
		})
		if err != nil {
			c.Status(http.StatusInternalServerError)
			return
		}
		b, _ := json.Marshal(r)
		c.Data(http.StatusCreated, "application/json", b)
	})
	srv := &http.Server{Addr: os.Getenv("HTTP_ADDR"), Handler: e, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
