package sources

import (
	"bytes"
	"context"
	"fmt"
	"unicode/utf8"
)

// A body parses into many times its size, and how many depends on what it
// holds, not on its length: a scrape of `a 1` lines or a JSON array of
// `{"a":0}` objects allocates 40 to 55 times its size. The poller's
// bytes-in-flight budget counts the bodies; the parses, which are quick and
// CPU-bound (no tenant can stall one), share a budget of their own, from
// which each reserves what its body's structure says it will allocate
// (scrapeParseBytes, httpParseBytes) before it runs.
const (
	ParseBudget     = 64 << 20
	parseMinReserve = 64 << 10
)

// Allocations per unit of a body's structure, measured
// (TestParsesReserveWhatTheyAllocate) with a margin: a line of a scrape
// (a sample, or a HELP or TYPE comment, which makes a family), and each
// label; a JSON value, an object's table and each of its keys. The body is
// copied about twice more: as text, and in the parser's strings; one that
// is not valid UTF-8 many times more (measured: 16 times for JSON), as each
// bad byte becomes a three-byte replacement character in each copy.
const (
	parsedSampleBytes = 1280
	parsedLabelBytes  = 256
	jsonValueBytes    = 112
	jsonObjectBytes   = 160
	jsonKeyBytes      = 352
	bodyCopies        = 3
	invalidUTF8Copies = 20
)

// whileParsing runs parse once need bytes (at most the whole budget) are
// reserved for it.
func (c *Client) whileParsing(ctx context.Context, body []byte, need int64, parse func()) error {
	cost := min(max(need, parseMinReserve), ParseBudget)
	if err := c.parsing.Acquire(ctx, cost); err != nil {
		return fmt.Errorf("waiting to parse %d bytes: %w", len(body), err)
	}
	defer c.parsing.Release(cost)
	parse()
	return nil
}

// copiesBytes is what the copies of a body take.
func copiesBytes(body []byte) int64 {
	if utf8.Valid(body) {
		return bodyCopies * int64(len(body))
	}
	return invalidUTF8Copies * int64(len(body))
}

// scrapeParseBytes is what parsing a scrape allocates at most.
func scrapeParseBytes(body []byte) int64 {
	lines, _, labels := scanExposition(body)
	return copiesBytes(body) + int64(lines)*parsedSampleBytes + int64(labels)*parsedLabelBytes
}

// scanExposition counts the lines of a text exposition that are not blank,
// those of them that can hold a sample (not comments), and the labels on
// those: the `=` outside quoted label values.
func scanExposition(body []byte) (lines, samples, labels int) {
	for line := range bytes.Lines(body) {
		if line = bytes.TrimLeft(line, " \t"); len(line) == 0 || line[0] == '\n' || line[0] == '\r' {
			continue
		}
		if lines++; line[0] == '#' {
			continue
		}
		samples++
		outsideQuotes(line, func(b byte) {
			if b == '=' {
				labels++
			}
		})
	}
	return lines, samples, labels
}

// outsideQuotes calls visit with each byte of data outside double-quoted
// strings (label values, JSON strings), whose backslash escapes it skips.
func outsideQuotes(data []byte, visit func(byte)) {
	inString, escaped := false, false
	for _, b := range data {
		switch {
		case escaped:
			escaped = false
		case inString:
			escaped, inString = b == '\\', b != '"'
		case b == '"':
			inString = true
		default:
			visit(b)
		}
	}
}

// httpParseBytes is what reading an http answer allocates at most: its text,
// and its values when it is JSON.
func httpParseBytes(contentType string, body []byte) int64 {
	n := copiesBytes(body)
	if !looksLikeJSON(contentType, body) {
		return n
	}
	values, objects, keys := int64(1), int64(0), int64(0)
	outsideQuotes(body, func(b byte) {
		switch b {
		case ',', '[':
			values++
		case '{':
			values, objects = values+1, objects+1
		case ':':
			keys++
		}
	})
	return n + values*jsonValueBytes + objects*jsonObjectBytes + keys*jsonKeyBytes
}
