// Package envconfig loads a process's configuration from environment
// variables with caarlos0/env, and turns its errors into one line that names
// the variable (never its value, which may be a secret).
//
// A configuration is a struct of blocks: the settings of Postgres, Redis,
// NATS, auth, logs and HTTP are each declared once, in the package that uses
// them, and embedded by every process that needs them. A block that has a
// Validate method is validated by Load, so each variable is checked once, in
// the one place that declares it.
package envconfig

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/caarlos0/env/v11"
)

// Validator is a block that checks its own values after parsing. Its error
// names the variable and never echoes its value.
type Validator interface {
	Validate() error
}

// Load parses the environment over base: a field without an envDefault tag
// keeps base's value when its variable is unset, which is how one block (the
// HTTP address) gets a different default in each service. Only the
// variables the struct declares are read, so tests pass a map-backed getenv.
// Every block, nested ones first, then the whole, is validated.
func Load[T any](getenv func(string) string, base T) (T, error) {
	cfg := base
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
	if err := validate(reflect.ValueOf(&cfg).Elem()); err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

// validate calls Validate on every block in v, nested ones first, then on v
// itself. An embedded block's method is v's own by promotion, so it is called
// again, as v's, when v has no Validate of its own; checks are pure, so twice is harmless.
func validate(v reflect.Value) error {
	if err := validateFields(v); err != nil {
		return err
	}
	if val, ok := v.Addr().Interface().(Validator); ok {
		return val.Validate()
	}
	return nil
}

func validateFields(v reflect.Value) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() || f.Type.Kind() != reflect.Struct {
			continue
		}
		// An embedded block is validated as a block of its own too: the outer
		// struct's Validate, when it has one, hides the promoted method.
		if err := validate(v.Field(i)); err != nil {
			return err
		}
	}
	return nil
}

// Var is one variable of a configuration, for --help.
type Var struct {
	Name    string
	Default string
}

// Describe lists the variables of T in declaration order with their defaults:
// the envDefault tag, else base's value. Secrets have no default, so none is
// ever printed.
func Describe[T any](base T) []Var {
	v := reflect.ValueOf(base)
	var out []Var
	describe(v, &out)
	return out
}

func describe(v reflect.Value, out *[]Var) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
		if name == "" {
			if f.Type.Kind() == reflect.Struct {
				describe(v.Field(i), out)
			}
			continue
		}
		def, ok := f.Tag.Lookup("envDefault")
		if !ok {
			def = fmt.Sprint(v.Field(i).Interface())
			if v.Field(i).IsZero() {
				def = ""
			}
		}
		*out = append(*out, Var{Name: name, Default: def})
	}
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
