// Package envconfig loads a service's configuration from environment
// variables with caarlos0/env, and turns its errors into one line that names
// the variable (never its value, which may be a secret).
package envconfig

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/caarlos0/env/v11"
)

// Load parses T from getenv. Only the variables T declares are read, so tests
// can pass a map-backed getenv instead of touching the process environment.
func Load[T any](getenv func(string) string) (T, error) {
	var cfg T
	params, err := env.GetFieldParams(&cfg)
	if err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	vars := make(map[string]string, len(params))
	for _, p := range params {
		if v := getenv(p.Key); v != "" {
			vars[p.Key] = v
		}
	}
	if err := env.ParseWithOptions(&cfg, env.Options{Environment: vars}); err != nil {
		return cfg, explain(reflect.TypeOf(cfg), err)
	}
	return cfg, nil
}

// explain rewrites the first of env's errors so it names the variable.
func explain(t reflect.Type, err error) error {
	var agg env.AggregateError
	if errors.As(err, &agg) && len(agg.Errors) > 0 {
		err = agg.Errors[0]
	}
	var pe env.ParseError
	if errors.As(err, &pe) {
		key := envKey(t, pe.Name)
		return fmt.Errorf("config: %s: not a valid %s", key, kind(pe.Type))
	}
	var unset env.VarIsNotSetError
	if errors.As(err, &unset) {
		return fmt.Errorf("config: %s is required", unset.Key)
	}
	var empty env.EmptyVarError
	if errors.As(err, &empty) {
		return fmt.Errorf("config: %s must not be empty", empty.Key)
	}
	return fmt.Errorf("config: %w", err)
}

// envKey finds the env tag of the field called name, searching nested structs.
func envKey(t reflect.Type, name string) string {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Name == name {
			if tag, _, _ := strings.Cut(f.Tag.Get("env"), ","); tag != "" {
				return tag
			}
		}
		if f.Type.Kind() == reflect.Struct && f.Tag.Get("env") == "" {
			if k := envKey(f.Type, name); k != name {
				return k
			}
		}
	}
	return name
}

func kind(t reflect.Type) string {
	switch {
	case t == nil:
		return "value"
	case t.String() == "time.Duration":
		return "duration (e.g. 30s, 5m, 168h)"
	case t.Kind() == reflect.Bool:
		return "boolean (true or false)"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "integer"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "number"
	case t.String() == "url.URL" || t.String() == "*url.URL":
		return "URL"
	}
	return t.String()
}
