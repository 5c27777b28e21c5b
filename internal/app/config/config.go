// Package config is the configuration of `fastio demo`: one table of settings, each of which can come from a
// flag (--name), an environment variable (FASTIO_NAME) or a JSON config file ({"name": value}), with the
// precedence flag > environment > file > default. Load validates the result, so that a bad value stops the
// program at start with one line that names where the value came from.
package config

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config is the validated configuration of the demo server.
type Config struct {
	// Addr is the TCP listen address, host:port (":3000": every interface).
	Addr string
	// Path is the Socket.IO endpoint path, with a trailing slash.
	Path string
	// EventLoops is the number of event loops (0: one per CPU).
	EventLoops int
	// CORSOrigins lists the origins allowed to reach the Socket.IO endpoint from a browser; "*" allows any and
	// an empty list sends no CORS headers (same-origin pages only).
	CORSOrigins []string
	// PingInterval and PingTimeout are the Engine.IO heartbeat.
	PingInterval time.Duration
	PingTimeout  time.Duration
	// ConnectTimeout is how long a client may stay without joining a namespace.
	ConnectTimeout time.Duration
	// RequestTimeout is how long an HTTP request may take to arrive once started; IdleTimeout how long a
	// keep-alive connection may wait for its next request.
	RequestTimeout time.Duration
	IdleTimeout    time.Duration
	// MaxPayload caps one polling body or WebSocket message, in bytes.
	MaxPayload int
	// MaxBacklog caps what may wait for one slow client, in bytes; a client over it is closed as a slow consumer.
	MaxBacklog int
	// MaxConnections caps the open Engine.IO sessions (0: no cap).
	MaxConnections int
	// MaxConnectionsPerIP caps the sockets of the main namespace per client IP address (0: no cap).
	MaxConnectionsPerIP int
	// MaxTCPConnections and MaxTCPConnectionsPerIP cap the TCP connections the event loops hold, in total and
	// per client address, before any request is read (0: no cap). They guard against floods of idle sockets;
	// with TLS (net/http) they do not apply.
	MaxTCPConnections      int
	MaxTCPConnectionsPerIP int
	// APIToken enables the publish API (/api/emit, /api/disconnect); empty disables it.
	APIToken string
	// APIMaxBody caps the body of a publish API request, in bytes.
	APIMaxBody int
	// Redis, a redis:// URL, joins the cluster of the servers using that Redis; empty: a single node.
	Redis string
	// LogLevel and LogFormat ("text" or "json") configure the log on stderr.
	LogLevel  slog.Level
	LogFormat string
	// ShutdownGrace is how long a shutdown may take, from the signal to the exit.
	ShutdownGrace time.Duration
	// TLSCert and TLSKey are the PEM files of the certificate (chain) and its private key: when set (both or
	// neither), the server speaks HTTPS and WSS through net/http instead of plain HTTP on the event loops.
	TLSCert string
	TLSKey  string
}

// Source tells where a setting's value came from.
type Source int

// The sources, in rising precedence.
const (
	FromDefault Source = iota
	FromFile
	FromEnv
	FromFlag
)

// String names the source as the error messages do.
func (s Source) String() string {
	return [...]string{"default", "config file", "environment", "flag"}[s]
}

// DefaultMaxBacklog is the engine's slow-consumer bound (eventloop.EndpointConfig.MaxBacklog's default).
const DefaultMaxBacklog = 16 << 20

// option is one setting: its flag name, default and parser. The environment variable is derived from the name.
type option struct {
	name  string
	def   string
	usage string
	set   func(c *Config, v string) error
}

// Env returns the environment variable of a setting: FASTIO_ and the flag name in upper case with underscores.
func Env(name string) string {
	return "FASTIO_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// options is the table of settings. "config" and "port" are handled apart (see Load) but listed for the usage.
var options = []option{
	{"config", "", "read settings from this JSON file ({\"setting-name\": value, ...})", nil},
	{"addr", ":3000", "listen address, host:port", func(c *Config, v string) error {
		if _, err := parseAddr(v); err != nil {
			return err
		}
		c.Addr = v
		return nil
	}},
	{"port", "", "listen port: a shortcut that replaces the port of --addr", nil},
	{"path", "/socket.io/", "Socket.IO endpoint path", func(c *Config, v string) error {
		p, err := parsePath(v)
		c.Path = p
		return err
	}},
	{"event-loops", "0", "number of event loops (0: one per CPU)", func(c *Config, v string) error {
		n, err := parseInt(v, 0, 4096)
		c.EventLoops = n
		return err
	}},
	{"cors-origins", "*", "comma-separated origins allowed by CORS on the Socket.IO endpoint; * for any, empty for none", func(c *Config, v string) error {
		o, err := parseOrigins(v)
		c.CORSOrigins = o
		return err
	}},
	{"ping-interval", "25s", "Engine.IO pingInterval", func(c *Config, v string) error {
		d, err := parseDuration(v, time.Millisecond)
		c.PingInterval = d
		return err
	}},
	{"ping-timeout", "20s", "Engine.IO pingTimeout", func(c *Config, v string) error {
		d, err := parseDuration(v, time.Millisecond)
		c.PingTimeout = d
		return err
	}},
	{"connect-timeout", "45s", "time a client has to join a namespace after its handshake", func(c *Config, v string) error {
		d, err := parseDuration(v, time.Millisecond)
		c.ConnectTimeout = d
		return err
	}},
	{"request-timeout", "30s", "time an HTTP request (head and body) may take to arrive once started (slowloris guard)", func(c *Config, v string) error {
		d, err := parseDuration(v, time.Millisecond)
		c.RequestTimeout = d
		return err
	}},
	{"idle-timeout", "60s", "time a keep-alive HTTP connection may wait for its next request", func(c *Config, v string) error {
		d, err := parseDuration(v, time.Millisecond)
		c.IdleTimeout = d
		return err
	}},
	{"max-payload", "1000000", "largest polling body or WebSocket message (bytes; KiB, MiB, kB, MB suffixes)", func(c *Config, v string) error {
		n, err := parseSize(v, 1, 1<<30)
		c.MaxPayload = n
		return err
	}},
	{"max-backlog", "16MiB", "bytes that may wait for one slow client before it is disconnected as a slow consumer", func(c *Config, v string) error {
		n, err := parseSize(v, 1<<10, 1<<30)
		c.MaxBacklog = n
		return err
	}},
	{"max-connections", "0", "most open Engine.IO sessions; later handshakes get 403 (0: no limit)", func(c *Config, v string) error {
		n, err := parseInt(v, 0, 1<<31-1)
		c.MaxConnections = n
		return err
	}},
	{"max-connections-per-ip", "0", "most main-namespace sockets per client IP address (0: no limit)", func(c *Config, v string) error {
		n, err := parseInt(v, 0, 1<<31-1)
		c.MaxConnectionsPerIP = n
		return err
	}},
	{"max-tcp-connections", "0", "most open TCP connections on the event loops; more are answered 503 and closed at once (0: no limit)", func(c *Config, v string) error {
		n, err := parseInt(v, 0, 1<<31-1)
		c.MaxTCPConnections = n
		return err
	}},
	{"max-tcp-connections-per-ip", "0", "most open TCP connections per client IP address on the event loops (0: no limit)", func(c *Config, v string) error {
		n, err := parseInt(v, 0, 1<<31-1)
		c.MaxTCPConnectionsPerIP = n
		return err
	}},
	{"api-token", "", "bearer token of the publish API (/api/emit, /api/disconnect); empty disables the API", func(c *Config, v string) error {
		if strings.IndexFunc(v, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
			return errors.New("must not contain spaces or control characters")
		}
		c.APIToken = v
		return nil
	}},
	{"redis", "", "redis:// URL of the Redis server of a cluster (Node's @socket.io/redis-adapter protocol); empty: one node", func(c *Config, v string) error {
		if v != "" && !strings.HasPrefix(v, "redis://") && !strings.HasPrefix(v, "rediss://") {
			return errors.New("must be a redis:// or rediss:// URL")
		}
		c.Redis = v
		return nil
	}},
	{"api-max-body", "1MiB", "largest publish API request body (bytes; KiB, MiB suffixes)", func(c *Config, v string) error {
		n, err := parseSize(v, 64, 1<<30)
		c.APIMaxBody = n
		return err
	}},
	{"log-level", "info", "log level: debug, info, warn or error", func(c *Config, v string) error {
		switch strings.ToLower(v) {
		case "debug":
			c.LogLevel = slog.LevelDebug
		case "info":
			c.LogLevel = slog.LevelInfo
		case "warn", "warning":
			c.LogLevel = slog.LevelWarn
		case "error":
			c.LogLevel = slog.LevelError
		default:
			return errors.New("want debug, info, warn or error")
		}
		return nil
	}},
	{"log-format", "text", "log format: text or json", func(c *Config, v string) error {
		v = strings.ToLower(v)
		if v != "text" && v != "json" {
			return errors.New("want text or json")
		}
		c.LogFormat = v
		return nil
	}},
	{"tls-cert", "", "PEM certificate (chain) file: serve HTTPS and WSS through net/http instead of the event loops (with --tls-key)", func(c *Config, v string) error {
		c.TLSCert = v
		return nil
	}},
	{"tls-key", "", "PEM private key file of --tls-cert", func(c *Config, v string) error {
		c.TLSKey = v
		return nil
	}},
	{"shutdown-grace", "10s", "longest time from SIGTERM/SIGINT to exit: clients are told, queues flushed, then the loops stop", func(c *Config, v string) error {
		d, err := parseDuration(v, 0)
		c.ShutdownGrace = d
		return err
	}},
}

func lookup(name string) *option {
	for i := range options {
		if options[i].name == name {
			return &options[i]
		}
	}
	return nil
}

// Loaded is a validated configuration and where each setting came from.
type Loaded struct {
	Config
	// File is the config file read, if any.
	File string
	// Sources maps each setting's name to where its value came from.
	Sources map[string]Source
	// Certificate is the key pair loaded from TLSCert and TLSKey; nil without TLS.
	Certificate *tls.Certificate
}

// Load builds the configuration from command-line arguments (without the command name), the environment (as
// os.LookupEnv) and the config file that --config or FASTIO_CONFIG names. It returns flag.ErrHelp for -h.
// Errors are one line, naming the setting and where its value came from.
func Load(args []string, lookupEnv func(string) (string, bool)) (*Loaded, error) {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	// The flags are recorded, not applied: they are applied last, over the file and the environment.
	type setFlag struct{ name, value string }
	var given []setFlag
	fs := flag.NewFlagSet("fastio", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	for _, o := range options {
		fs.Func(o.name, o.usage, func(v string) error {
			given = append(given, setFlag{o.name, v})
			return nil
		})
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%v (see fastio demo -h)", err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (see fastio demo -h)", fs.Arg(0))
	}

	l := &Loaded{Sources: make(map[string]Source)}
	var port string
	apply := func(name, value string, src Source, where string) error {
		o := lookup(name)
		if o == nil {
			return fmt.Errorf("config file %s: unknown setting %q (see fastio demo -h)", l.File, name)
		}
		switch name {
		case "config":
			if src == FromFile {
				return fmt.Errorf("%s: \"config\" cannot be set inside a config file", where)
			}
			l.File = value
		case "port":
			if value != "" {
				if _, err := parseInt(value, 0, 65535); err != nil {
					return fmt.Errorf("%s: invalid value %q: %v", where, value, err)
				}
			}
			port = value
		default:
			if err := o.set(&l.Config, value); err != nil {
				return fmt.Errorf("%s: invalid value %q: %v", where, value, err)
			}
		}
		l.Sources[name] = src
		return nil
	}
	for _, o := range options {
		if o.set != nil {
			if err := o.set(&l.Config, o.def); err != nil {
				panic(fmt.Sprintf("config: default of %s: %v", o.name, err))
			}
		}
		l.Sources[o.name] = FromDefault
	}
	// Where is the config file?
	if v, ok := lookupEnv(Env("config")); ok {
		l.File = v
	}
	for _, f := range given {
		if f.name == "config" {
			l.File = f.value
		}
	}
	if l.File != "" {
		settings, err := readFile(l.File)
		if err != nil {
			return nil, err
		}
		for _, s := range settings {
			if err := apply(s.name, s.value, FromFile, fmt.Sprintf("config file %s: setting %q", l.File, s.name)); err != nil {
				return nil, err
			}
		}
	}
	for _, o := range options {
		if v, ok := lookupEnv(Env(o.name)); ok {
			if err := apply(o.name, v, FromEnv, "environment variable "+Env(o.name)); err != nil {
				return nil, err
			}
		}
	}
	for _, f := range given {
		if err := apply(f.name, f.value, FromFlag, "flag --"+f.name); err != nil {
			return nil, err
		}
	}
	// --port replaces the port of --addr, unless --addr came from a stronger source than --port.
	if port != "" && port != "0" && l.Sources["port"] >= l.Sources["addr"] {
		host, _, _ := net.SplitHostPort(l.Addr)
		l.Addr = net.JoinHostPort(host, port)
	}
	if err := l.validate(); err != nil {
		return nil, err
	}
	return l, nil
}

// validate checks the settings against each other.
func (l *Loaded) validate() error {
	c := &l.Config
	name := func(setting string) string {
		return fmt.Sprintf("%s (%s)", setting, l.Sources[setting])
	}
	if c.PingTimeout > 0 && c.PingInterval > 0 && c.PingInterval+c.PingTimeout > 24*time.Hour {
		return fmt.Errorf("%s + %s must stay under 24h", name("ping-interval"), name("ping-timeout"))
	}
	for _, route := range ReservedRoutes {
		if strings.HasPrefix(route, c.Path) {
			return fmt.Errorf("%s: %q would hide %s, which the server serves on the same port", name("path"), c.Path, route)
		}
	}
	if c.MaxConnections > 0 && c.MaxConnectionsPerIP > c.MaxConnections {
		return fmt.Errorf("%s is larger than %s", name("max-connections-per-ip"), name("max-connections"))
	}
	return l.loadCertificate(name)
}

// loadCertificate loads the TLS key pair, when there is one, so that a missing file or a key that does not
// match its certificate stops the program at start.
func (l *Loaded) loadCertificate(name func(string) string) error {
	c := &l.Config
	switch {
	case c.TLSCert == "" && c.TLSKey == "":
		return nil
	case c.TLSKey == "":
		return fmt.Errorf("%s is set without tls-key: TLS needs both, or neither", name("tls-cert"))
	case c.TLSCert == "":
		return fmt.Errorf("%s is set without tls-cert: TLS needs both, or neither", name("tls-key"))
	}
	cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			setting := "tls-cert"
			if pe.Path != c.TLSCert {
				setting = "tls-key"
			}
			return fmt.Errorf("%s: cannot read %s: %v", name(setting), pe.Path, pe.Err)
		}
		return fmt.Errorf("%s, %s: not a usable certificate and key: %v", name("tls-cert"), name("tls-key"), err)
	}
	l.Certificate = &cert
	return nil
}

// ReservedRoutes are the paths served next to the Socket.IO endpoint; the endpoint's path may not cover them.
var ReservedRoutes = []string{"/api/emit", "/api/disconnect", "/api/stats", "/metrics", "/healthz", "/readyz",
	"/socket.io.min.js", "/app.js", "/style.css"}

type setting struct{ name, value string }

// readFile reads a JSON object of settings. Values may be strings, numbers, booleans or (for cors-origins)
// arrays of strings; each is turned into the text a flag would take.
func readFile(path string) ([]setting, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("config file %s: %v", path, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw map[string]json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("config file %s: not a JSON object: %v", path, jsonErr(data, err))
	}
	if dec.More() {
		return nil, fmt.Errorf("config file %s: data after the JSON object", path)
	}
	names := make([]string, 0, len(raw))
	for k := range raw {
		names = append(names, k)
	}
	slices.Sort(names) // deterministic order, so the first error is always the same one
	out := make([]setting, 0, len(raw))
	for _, k := range names {
		v, err := settingText(raw[k])
		if err != nil {
			return nil, fmt.Errorf("config file %s: setting %q: %v", path, k, err)
		}
		out = append(out, setting{k, v})
	}
	return out, nil
}

func settingText(raw json.RawMessage) (string, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return "", err
	}
	switch v := v.(type) {
	case string:
		return v, nil
	case json.Number:
		return v.String(), nil
	case bool:
		return strconv.FormatBool(v), nil
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				return "", errors.New("a list may hold only strings")
			}
			if strings.Contains(s, ",") {
				return "", fmt.Errorf("list item %q contains a comma", s)
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	}
	return "", errors.New("want a string, a number, a boolean or a list of strings")
}

// jsonErr adds the line number to a JSON syntax error.
func jsonErr(data []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line := 1 + bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n"))
		return fmt.Errorf("line %d: %v", line, se)
	}
	return err
}

func parseInt(v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, errors.New("not an integer")
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("must be between %d and %d", lo, hi)
	}
	return n, nil
}

// parseDuration takes Go durations ("25s", "1m30s"); at least min (and non-negative).
func parseDuration(v string, min time.Duration) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil {
		return 0, errors.New("not a duration (like 500ms, 25s, 1m)")
	}
	if d < 0 {
		return 0, errors.New("must not be negative")
	}
	if d < min {
		return 0, fmt.Errorf("must be at least %v", min)
	}
	return d, nil
}

// parseSize takes a byte count, optionally with a unit: kB, MB, GB (powers of 1000) or KiB, MiB, GiB (1024).
func parseSize(v string, lo, hi int) (int, error) {
	s := strings.TrimSpace(v)
	i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	num, unit := s, ""
	if i >= 0 {
		num, unit = s[:i], strings.TrimSpace(s[i:])
	}
	mult := 1
	switch strings.ToLower(unit) {
	case "", "b":
	case "kb", "k":
		mult = 1000
	case "mb", "m":
		mult = 1000 * 1000
	case "gb", "g":
		mult = 1000 * 1000 * 1000
	case "kib":
		mult = 1 << 10
	case "mib":
		mult = 1 << 20
	case "gib":
		mult = 1 << 30
	default:
		return 0, fmt.Errorf("unknown size unit %q (use kB, MB, GB, KiB, MiB, GiB)", unit)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || num == "" {
		return 0, errors.New("not a size in bytes (like 1000000, 512KiB, 16MiB)")
	}
	if n > int64(hi)/int64(mult)+1 || int(n)*mult < lo || int(n)*mult > hi {
		return 0, fmt.Errorf("must be between %d and %d bytes", lo, hi)
	}
	return int(n) * mult, nil
}

func parseAddr(v string) (string, error) {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return "", errors.New("want host:port, like :3000 or 127.0.0.1:3000")
	}
	if _, err := parseInt(port, 0, 65535); err != nil {
		return "", fmt.Errorf("port %q: %v", port, err)
	}
	if host != "" && net.ParseIP(host) == nil && strings.ContainsAny(host, " /?#") {
		return "", fmt.Errorf("bad host %q", host)
	}
	return v, nil
}

func parsePath(v string) (string, error) {
	if !strings.HasPrefix(v, "/") {
		return "", errors.New("must start with /")
	}
	if strings.ContainsAny(v, "?# \t") {
		return "", errors.New("must not contain ?, # or spaces")
	}
	if !strings.HasSuffix(v, "/") {
		v += "/"
	}
	if v == "/" {
		return "", errors.New("must not be / (the endpoint would take every request)")
	}
	return v, nil
}

func parseOrigins(v string) ([]string, error) {
	out := []string{}
	for _, o := range strings.Split(v, ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		if o != "*" {
			u, err := url.Parse(o)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
				return nil, fmt.Errorf("origin %q: want * or scheme://host[:port], like https://example.com", o)
			}
			o = u.Scheme + "://" + u.Host
		}
		out = append(out, o)
	}
	if len(out) > 1 && slices.Contains(out, "*") {
		return nil, errors.New("* allows every origin: list no others with it")
	}
	return out, nil
}

// Usage writes the settings: flag, environment variable, default and meaning.
func Usage(w io.Writer) {
	fmt.Fprintf(w, "usage: fastio [demo] [flags]\n\nSettings: flag > environment variable > config file > default.\n\n")
	for _, o := range options {
		def := o.def
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(w, "  --%-24s %-32s default %s\n      %s\n", o.name, Env(o.name), def, o.usage)
	}
}

// Settings lists the effective settings for the start-up log, with the API token redacted.
func (l *Loaded) Settings() []any {
	c := &l.Config
	token := "none (publish API disabled)"
	if c.APIToken != "" {
		token = "set"
	}
	return []any{
		"addr", c.Addr, "path", c.Path, "event_loops", c.EventLoops, "cors_origins", strings.Join(c.CORSOrigins, ","),
		"ping_interval", c.PingInterval, "ping_timeout", c.PingTimeout, "connect_timeout", c.ConnectTimeout,
		"request_timeout", c.RequestTimeout, "idle_timeout", c.IdleTimeout,
		"max_payload", c.MaxPayload, "max_backlog", c.MaxBacklog, "max_connections", c.MaxConnections,
		"max_connections_per_ip", c.MaxConnectionsPerIP, "max_tcp_connections", c.MaxTCPConnections,
		"max_tcp_connections_per_ip", c.MaxTCPConnectionsPerIP, "api_token", token, "api_max_body", c.APIMaxBody,
		"log_level", c.LogLevel.String(), "log_format", c.LogFormat, "shutdown_grace", c.ShutdownGrace,
		"tls_cert", c.TLSCert, "tls_key", c.TLSKey, "config_file", l.File,
	}
}
