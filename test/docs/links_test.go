// Package docs checks that the README and the docs stand alone: every
// relative link names a file of the repository, and every anchor a heading.
package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	root    = filepath.Join("..", "..")
	link    = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	heading = regexp.MustCompile(`(?m)^#{1,6} (.+)$`)
	// notInAnchor is what GitHub drops from a heading to make its anchor.
	notInAnchor = regexp.MustCompile(`[^\p{L}\p{N} _-]`)
)

func TestRelativeLinksResolve(t *testing.T) {
	pages, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	pages = append(pages, filepath.Join(root, "README.md"), filepath.Join(root, "SECURITY.md"))
	checked := 0
	for _, page := range pages {
		text, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(text), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			checked++
			if problem := resolve(page, target); problem != "" {
				t.Errorf("%s links %s: %s", page, target, problem)
			}
		}
	}
	if checked < 20 {
		t.Fatalf("checked only %d links: the pattern no longer finds them", checked)
	}
}

// resolve says what is wrong with a relative link from page, or "".
func resolve(page, target string) string {
	path, anchor, _ := strings.Cut(target, "#")
	file := page
	if path != "" {
		file = filepath.Join(filepath.Dir(page), filepath.FromSlash(path))
	}
	text, err := os.ReadFile(file)
	if info, statErr := os.Stat(file); statErr == nil && info.IsDir() {
		return ""
	}
	if err != nil {
		return "no such file in the repository"
	}
	if anchor == "" || !strings.HasSuffix(file, ".md") {
		return ""
	}
	for _, h := range heading.FindAllStringSubmatch(string(text), -1) {
		if anchorOf(h[1]) == anchor {
			return ""
		}
	}
	return "no heading with anchor #" + anchor
}

func anchorOf(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	return strings.ReplaceAll(notInAnchor.ReplaceAllString(h, ""), " ", "-")
}
