package gate

import (
	"strings"
	"unicode/utf8"
)

// MaxMessageBytes bounds condition messages and Event notes: an expression's
// message is the tenant's to choose, and a pod's status is not a log.
const MaxMessageBytes = 1024

// Cut makes a message valid UTF-8 of at most MaxMessageBytes.
func Cut(s string) string { return CutTo(s, MaxMessageBytes) }

// CutTo makes s valid UTF-8 of at most max bytes, marking a cut. A tenant's
// message can hold bytes that are not UTF-8 (CEL's url().getQuery() decodes
// %FF); the JSON of a status patch would make each of them a three-byte
// U+FFFD, past the bound, and the message read back would never equal the
// one decided. Only what is kept is mended, since mending copies.
func CutTo(s string, max int) string {
	s = cutAtRune(s, max)
	if utf8.ValidString(s) {
		return s
	}
	return cutAtRune(strings.ToValidUTF8(s, "\uFFFD"), max)
}

// cutAtRune bounds s to max bytes at the start of a character, marking the
// cut.
func cutAtRune(s string, max int) string {
	if len(s) <= max {
		return s
	}
	const marker = "…"
	n := max - len(marker)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + marker
}
