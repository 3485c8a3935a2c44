package logging_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ticketsys/ticketsys/pkg/logging"
)

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		level, format string
		logsDebug     bool
		logsInfo      bool
		json          bool
	}{
		{"debug", "json", true, true, true},
		{"info", "text", false, true, false},
		{"WARN", "JSON", false, false, true},
		{"error", "text", false, false, false},
		{"", "", false, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.level+"/"+tt.format, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			log, err := logging.New(tt.level, tt.format, &buf)
			require.NoError(t, err)

			log.Debug("dbg")
			assert.Equal(t, tt.logsDebug, bytes.Contains(buf.Bytes(), []byte("dbg")))
			buf.Reset()
			log.Info("inf", "k", "v")
			assert.Equal(t, tt.logsInfo, bytes.Contains(buf.Bytes(), []byte("inf")))
			if tt.logsInfo {
				assert.Equal(t, tt.json, json.Valid(bytes.TrimSpace(buf.Bytes())), buf.String())
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	_, err := logging.New("verbose", "json", &bytes.Buffer{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "LOG_LEVEL")
	assert.Contains(t, err.Error(), `"verbose"`)

	_, err = logging.New("info", "xml", &bytes.Buffer{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "LOG_FORMAT")
}
