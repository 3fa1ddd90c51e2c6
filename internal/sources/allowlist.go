package sources

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"unicode/utf8"
)

// URLAllowlist is --prometheus-allowed-urls: the URL prefixes a policy's
// prometheus source may query (design rule 16). Empty allows none, which
// turns the prometheus source off.
type URLAllowlist []allowedURL

// allowedURL is one prefix, normalised: lower-case scheme and host, an
// explicit port and a path without a trailing slash.
type allowedURL struct {
	scheme, host, port, path string
	text                     string
}

func (a *URLAllowlist) String() string {
	s := make([]string, len(*a))
	for i, u := range *a {
		s[i] = u.text
	}
	return strings.Join(s, ",")
}

// Set replaces the list with the comma-separated URLs of value.
func (a *URLAllowlist) Set(value string) error {
	var out URLAllowlist
	for f := range strings.SplitSeq(value, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		u, err := normalizeURL(f)
		if err != nil {
			return err
		}
		u.text = f
		out = append(out, u)
	}
	*a = out
	return nil
}

// Allows says whether address lies under one of the prefixes: same scheme,
// host and port, and a path equal to the prefix's or below it at a "/"
// boundary. It compares parsed URLs, never strings, so neither
// http://prom:9090.evil.com nor http://prom:9090@evil passes for
// http://prom:9090.
func (a URLAllowlist) Allows(address string) error {
	if len(a) == 0 {
		return errors.New("the prometheus source is off: readygate runs without --prometheus-allowed-urls, the list of Prometheus URLs policies may query; ask its administrator")
	}
	u, err := normalizeURL(address)
	if err != nil {
		return fmt.Errorf("prometheus address: %w", err)
	}
	for _, allowed := range a {
		if allowed.covers(u) {
			return nil
		}
	}
	return fmt.Errorf("prometheus address %q is not under any URL that readygate's --prometheus-allowed-urls allows (%s)", address, a.String())
}

// oddInPath is a character of a decoded path that some server in front of
// Prometheus may read otherwise than this check: ";" and "\" as separators,
// "%" as a second encoding, spaces, controls and anything not ASCII.
func oddInPath(r rune) bool {
	return r <= ' ' || r > '~' || r == ';' || r == '\\' || r == '%'
}

// ServerOf names the server an address reaches, its scheme, host and port,
// for Target.Shared: every path on a server shares its concurrency.
func ServerOf(address string) string {
	u, err := normalizeURL(address)
	if err != nil {
		return address // refused before any fetch
	}
	return u.scheme + "://" + net.JoinHostPort(u.host, u.port)
}

func (allowed allowedURL) covers(u allowedURL) bool {
	return allowed.scheme == u.scheme && allowed.host == u.host && allowed.port == u.port &&
		(u.path == allowed.path || strings.HasPrefix(u.path, allowed.path+"/"))
}

// normalizeURL parses an http(s) URL with a host and nothing that could make
// it mean something else to a server than to this check: no credentials, no
// query or fragment, no "." or ".." path segments, no encoded slash and
// nothing oddInPath in the path.
func normalizeURL(s string) (allowedURL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return allowedURL{}, fmt.Errorf("%q is not a URL: %w", s, err)
	}
	scheme := strings.ToLower(u.Scheme)
	var defaultPort string
	switch scheme {
	case "http":
		defaultPort = "80"
	case "https":
		defaultPort = "443"
	default:
		return allowedURL{}, fmt.Errorf("%q: the scheme must be http or https", s)
	}
	switch {
	case u.Opaque != "" || u.Hostname() == "":
		return allowedURL{}, fmt.Errorf("%q has no host", s)
	case u.User != nil:
		return allowedURL{}, fmt.Errorf("%q carries credentials before its host", s)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return allowedURL{}, fmt.Errorf("%q has a query or fragment", s)
	}
	// Servers in front of Prometheus (Tomcat, Spring, some gateways) read
	// ";" and "\" as parts of path segments, decode encoded separators or
	// decode twice, so they would see segments, and "..", where this check
	// sees none.
	if i := strings.IndexFunc(u.Path, oddInPath); i >= 0 {
		_, size := utf8.DecodeRuneInString(u.Path[i:]) // a whole character, or the one bad byte
		return allowedURL{}, fmt.Errorf("%q has %q in its path", s, u.Path[i:i+size])
	}
	if raw := strings.ToLower(u.EscapedPath()); strings.Contains(raw, "%2f") {
		return allowedURL{}, fmt.Errorf("%q has an encoded slash in its path", s)
	}
	for seg := range strings.SplitSeq(u.Path, "/") {
		if seg == "." || seg == ".." {
			return allowedURL{}, fmt.Errorf("%q has a %q path segment", s, seg)
		}
	}
	port := u.Port()
	if port == "" {
		port = defaultPort
	}
	return allowedURL{scheme: scheme, host: strings.ToLower(u.Hostname()), port: port, path: strings.TrimRight(u.Path, "/")}, nil
}
