package envconfig

import (
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
	cfg, err := Load[sample](mapenv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != ":8081" || cfg.Replicas != 1 || cfg.MaxAge != 168*time.Hour || !cfg.Enabled {
		t.Fatalf("defaults not applied: %+v", cfg)
	}
}

func TestLoadValues(t *testing.T) {
	t.Parallel()
	cfg, err := Load[sample](mapenv(map[string]string{"REPLICAS": "3", "SECRET": "s3cr3t", "ENABLED": "false"}))
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
			_, err := Load[sample](mapenv(tc.env))
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
