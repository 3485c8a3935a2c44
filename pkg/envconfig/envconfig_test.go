package envconfig

import (
	"errors"
	"strings"
	"testing"
	"time"
)

type inner struct {
	Secret string `env:"SECRET"`
}

type sample struct {
	Addr     string        `env:"ADDR" envDefault:":8081"`
	Replicas int           `env:"REPLICAS" envDefault:"1"`
	MaxAge   time.Duration `env:"MAX_AGE" envDefault:"168h"`
	Enabled  bool          `env:"ENABLED" envDefault:"true"`
	Inner    inner
}

func mapenv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := Load(mapenv(nil), sample{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != ":8081" || cfg.Replicas != 1 || cfg.MaxAge != 168*time.Hour || !cfg.Enabled {
		t.Fatalf("defaults not applied: %+v", cfg)
	}
}

func TestLoadValues(t *testing.T) {
	t.Parallel()
	cfg, err := Load(mapenv(map[string]string{"REPLICAS": "3", "SECRET": "s3cr3t", "ENABLED": "false"}), sample{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Replicas != 3 || cfg.Inner.Secret != "s3cr3t" || cfg.Enabled {
		t.Fatalf("values not applied: %+v", cfg)
	}
}

func TestLoadErrorNamesVariable(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		env  map[string]string
		want string
	}{
		"int":      {map[string]string{"REPLICAS": "three"}, "config: REPLICAS: not a valid integer"},
		"duration": {map[string]string{"MAX_AGE": "a week"}, "config: MAX_AGE: not a valid duration"},
		"bool":     {map[string]string{"ENABLED": "yes please"}, "config: ENABLED: not a valid boolean"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(mapenv(tc.env), sample{})
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("got %v, want prefix %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			for _, v := range tc.env {
				if strings.Contains(err.Error(), v) {
					t.Fatalf("error echoes the value %q: %v", v, err)
				}
			}
		})
	}
}

// block is a configuration block with its own check, as the shared blocks
// (Postgres, Redis, NATS, ...) are.
type block struct {
	Port int `env:"PORT" envDefault:"1"`
}

func (b block) Validate() error {
	if b.Port < 1 {
		return errors.New("PORT: must be positive")
	}
	return nil
}

type withBlocks struct {
	Addr string `env:"HTTP_ADDR"`
	A    block
	Log  string `env:"LOG" envDefault:"info"`
}

func (w withBlocks) Validate() error {
	if w.Addr == "" {
		return errors.New("HTTP_ADDR: must not be empty")
	}
	return nil
}

func TestLoadValidatesEveryBlockOnce(t *testing.T) {
	t.Parallel()
	_, err := Load(mapenv(map[string]string{"PORT": "0"}), withBlocks{Addr: ":1"})
	if err == nil || err.Error() != "config: PORT: must be positive" {
		t.Fatalf("a bad block: %v", err)
	}
	_, err = Load(mapenv(nil), withBlocks{})
	if err == nil || err.Error() != "config: HTTP_ADDR: must not be empty" {
		t.Fatalf("the whole: %v", err)
	}
}

func TestLoadKeepsTheBaseWhereNoDefault(t *testing.T) {
	t.Parallel()
	cfg, err := Load(mapenv(nil), withBlocks{Addr: ":8082"})
	if err != nil || cfg.Addr != ":8082" || cfg.A.Port != 1 {
		t.Fatalf("%+v %v", cfg, err)
	}
	cfg, err = Load(mapenv(map[string]string{"HTTP_ADDR": ":9"}), withBlocks{Addr: ":8082"})
	if err != nil || cfg.Addr != ":9" {
		t.Fatalf("%+v %v", cfg, err)
	}
}

type embeds struct {
	block
	Name string `env:"NAME" envDefault:"x"`
}

// Block is block exported, as svcmain.Base is.
type Block = block

type shadows struct {
	Block
	Name string `env:"NAME" envDefault:"x"`
}

func (s shadows) Validate() error {
	if s.Name == "" {
		return errors.New("NAME: must not be empty")
	}
	return nil
}

// An embedded block's Validate runs whether it is the outer struct's by
// promotion or hidden by the outer struct's own (as svcmain.Base is by each
// service's config).
func TestLoadValidatesAnEmbeddedBlock(t *testing.T) {
	t.Parallel()
	_, err := Load(mapenv(map[string]string{"PORT": "-1"}), embeds{})
	if err == nil || err.Error() != "config: PORT: must be positive" {
		t.Fatalf("promoted: %v", err)
	}
	_, err = Load(mapenv(map[string]string{"PORT": "-1"}), shadows{})
	if err == nil || err.Error() != "config: PORT: must be positive" {
		t.Fatalf("hidden: %v", err)
	}
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	got := Describe(withBlocks{Addr: ":8082"})
	want := []Var{{"HTTP_ADDR", ":8082"}, {"PORT", "1"}, {"LOG", "info"}}
	if len(got) != len(want) {
		t.Fatalf("%v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%v, want %v", got, want)
		}
	}
	if got := Describe(sample{}); got[4] != (Var{"SECRET", ""}) {
		t.Fatalf("a variable without a default shows one: %v", got)
	}
}
