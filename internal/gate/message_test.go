package gate

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestCutLeavesValidUTF8WithinTheBound: a message is the tenant's bytes,
// and what is not UTF-8 in it would grow threefold in the JSON the API
// server is sent, past the bound.
func TestCutLeavesValidUTF8WithinTheBound(t *testing.T) {
	for name, in := range map[string]string{
		"bytes that are not UTF-8":            strings.Repeat("\xff", 2*MaxMessageBytes),
		"a few bad bytes in a short message":  "warm\xff\xfe",
		"bad bytes between letters":           strings.Repeat("a\xff", MaxMessageBytes),
		"two-byte characters across the cut":  "a" + strings.Repeat("é", MaxMessageBytes),
		"a character cut short by the sender": strings.Repeat("x", MaxMessageBytes-2) + "\xe2\x80",
	} {
		got := Cut(in)
		if !utf8.ValidString(got) || len(got) > MaxMessageBytes {
			t.Errorf("%s: %d bytes, valid UTF-8 %v: %q", name, len(got), utf8.ValidString(got), got[max(0, len(got)-12):])
		}
		if len(in) > MaxMessageBytes && !strings.HasSuffix(got, "…") {
			t.Errorf("%s: the cut is not marked: %q", name, got[max(0, len(got)-12):])
		}
	}
	if got := Cut("plain, ünïcode ✓ text"); got != "plain, ünïcode ✓ text" {
		t.Errorf("a short valid message changed: %q", got)
	}
}
