package graph

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// The delimiters of a record, and the version of its format. A newer
// generator may write another version; Read then says to upgrade the tool.
const (
	recordStart   = "⟦pilotage:component:"
	recordEnd     = "⟧"
	formatVersion = "v1"
)

// Record returns the string that embeds c in a binary. The generated code
// passes it to codegen.RegisterImplementation, so that the linker keeps it.
func Record(c Component) (string, error) {
	if c.Refs == nil {
		c.Refs = []string{}
	}
	if c.Listeners == nil {
		c.Listeners = []string{}
	}
	if len(c.Methods) > 0 {
		ms := make([]Method, len(c.Methods))
		for i, m := range c.Methods {
			if m.Params == nil {
				m.Params = []Param{}
			}
			if m.Results == nil {
				m.Results = []string{}
			}
			ms[i] = m
		}
		c.Methods = ms
	}
	b, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("encode the description of %s: %w", c.Name, err)
	}
	payload := asciiJSON(b)
	return recordStart + formatVersion + ":" + checksum(payload) + ":" + payload + recordEnd, nil
}

// asciiJSON rewrites the non-ASCII characters of JSON text b, which can
// only be inside strings, as \u escapes.
func asciiJSON(b []byte) string {
	var sb strings.Builder
	for _, r := range string(b) {
		switch {
		case r < utf8.RuneSelf:
			sb.WriteRune(r)
		case r > 0xFFFF:
			r -= 0x10000
			fmt.Fprintf(&sb, `\u%04x\u%04x`, 0xD800+(r>>10), 0xDC00+(r&0x3FF))
		default:
			fmt.Fprintf(&sb, `\u%04x`, r)
		}
	}
	return sb.String()
}

func checksum(payload string) string {
	sum := sha256.Sum256([]byte(payload))
	return hex.EncodeToString(sum[:4])
}
