package rgp

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/readygate/readygate/internal/cel"
	"github.com/readygate/readygate/internal/gate"
)

// textWriter writes a text report and keeps the first write error, so that
// a closed pipe ends the command with an error rather than silently.
type textWriter struct {
	w   io.Writer
	err error
}

// printf writes one piece of the report. Every string argument is made
// printable first: messages, bodies and names come from tenants' pods and
// policies, and a control character could rewrite the reader's terminal.
func (t *textWriter) printf(format string, args ...any) {
	if t.err != nil {
		return
	}
	for i, a := range args {
		if s, ok := a.(string); ok {
			args[i] = printable(s)
		}
	}
	_, t.err = fmt.Fprintf(t.w, format, args...)
}

// unprintable is a rune that would act on the terminal or the text around
// it rather than show: controls, and the format characters (bidirectional
// overrides that reorder a line) and line and paragraph separators.
func unprintable(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.In(r, unicode.Zl, unicode.Zp)
}

// printable escapes unprintable runes and bytes that are not UTF-8, as %q
// would, and leaves the rest. A stray byte such as 0x9b is a C1 control
// (CSI) to a terminal that reads 8-bit controls.
func printable(s string) string {
	if utf8.ValidString(s) && !strings.ContainsFunc(s, unprintable) {
		return s
	}
	var b strings.Builder
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		if unprintable(r) || r == utf8.RuneError && size == 1 {
			q := strconv.Quote(s[:size])
			b.WriteString(q[1 : len(q)-1])
		} else {
			b.WriteString(s[:size])
		}
		s = s[size:]
	}
	return b.String()
}

// printJSON writes v indented, for scripts, and often read in a terminal.
func printJSON(w io.Writer, v any) error {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := io.WriteString(w, jsonEscaped(b.String()))
	return err
}

// jsonEscaped writes the unprintable runes beyond ASCII of encoded JSON as
// \u escapes, which a program reads as the same text: encoding/json escapes
// the ASCII controls but leaves C1 controls (U+009B is CSI) and
// bidirectional overrides for the terminal to act on. Such runes can only
// be in strings, where any rune may be escaped.
func jsonEscaped(s string) string {
	escaped := func(r rune) bool { return r > unicode.MaxASCII && unprintable(r) }
	if !strings.ContainsFunc(s, escaped) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case !escaped(r):
			b.WriteRune(r)
		case r > 0xffff:
			hi, lo := utf16.EncodeRune(r)
			fmt.Fprintf(&b, `\u%04x\u%04x`, hi, lo)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}

func (t *testOptions) print(cmd *cobra.Command, r testReport) error {
	w := cmd.OutOrStdout()
	if t.output == outputJSON {
		return printJSON(w, r)
	}
	tw := &textWriter{w: w}
	for _, res := range r.Results {
		tw.printf("pod/%s: %s", res.Pod, res.Result.Outcome)
		if res.Result.Message != "" {
			tw.printf(": %s", res.Result.Message)
		}
		tw.printf("\n")
		if !res.Selected {
			tw.printf("  note: policy %s's selector does not select this pod: the operator would not evaluate it\n", r.Policy)
		}
		if res.Selected && !res.Gated {
			tw.printf("  note: the pod's spec.readinessGates lacks the policy's condition type: the verdict would not gate it\n")
		}
		printEvaluationDetail(tw, "  ", res.Result)
	}
	return tw.err
}

// printEvaluationDetail writes the variables' and sources' values.
func printEvaluationDetail(tw *textWriter, indent string, ev Evaluation) {
	for _, v := range ev.Variables {
		tw.printf("%svariables.%s = %s\n", indent, v.Name, valueText(v.Value, v.Error))
	}
	for _, s := range ev.Sources {
		from := ""
		if s.From != "" {
			from = " (from " + s.From + ")"
		}
		switch {
		case s.MissingPermission != "":
			tw.printf("%s%s%s: not readable: you lack %s\n", indent, s.Name, from, s.MissingPermission)
		default:
			tw.printf("%s%s%s = %s\n", indent, s.Name, from, valueText(s.Value, s.Error))
		}
	}
}

// maxValueText bounds a value printed on one line; -o json has it whole.
const maxValueText = 400

// valueText renders a value as compact JSON, or its error.
func valueText(v any, errText string) string {
	if errText != "" {
		return "error: " + errText
	}
	if m, ok := v.(map[string][]cel.Sample); ok {
		return samplesText(m)
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return gate.CutTo(string(data), maxValueText)
}

// samplesText renders scraped series as name{labels} value.
func samplesText(m map[string][]cel.Sample) string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	var parts []string
	for _, n := range names {
		if len(m[n]) == 0 {
			parts = append(parts, n+" (absent)")
		}
		for _, s := range m[n] {
			parts = append(parts, fmt.Sprintf("%s%s %g", n, labelText(s.Labels), s.Value))
		}
	}
	return gate.CutTo(strings.Join(parts, ", "), maxValueText)
}

func labelText(l map[string]string) string {
	if len(l) == 0 {
		return ""
	}
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%q", k, l[k])
	}
	return "{" + strings.Join(parts, ",") + "}"
}
