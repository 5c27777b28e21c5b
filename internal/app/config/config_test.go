package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fastio/fastio/internal/app/apptest"
)

func env(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "fastio.json")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaults(t *testing.T) {
	l, err := Load(nil, env())
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Addr: ":3000", Path: "/socket.io/", CORSOrigins: []string{"*"},
		PingInterval: 25 * time.Second, PingTimeout: 20 * time.Second, ConnectTimeout: 45 * time.Second,
		RequestTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second,
		MaxPayload: 1_000_000, MaxBacklog: DefaultMaxBacklog, APIMaxBody: 1 << 20,
		LogLevel: slog.LevelInfo, LogFormat: "text", ShutdownGrace: 10 * time.Second,
	}
	if !reflect.DeepEqual(l.Config, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", l.Config, want)
	}
	for name, src := range l.Sources {
		if src != FromDefault {
			t.Errorf("%s from %v", name, src)
		}
	}
}

func TestPrecedence(t *testing.T) {
	file := writeFile(t, `{
		"ping-interval": "1s", "ping-timeout": "2s", "max-payload": 5000, "log-format": "json",
		"cors-origins": ["https://a.example", "http://b.example:8080"], "max-connections": 100
	}`)
	l, err := Load(
		[]string{"--config", file, "--ping-interval=3s", "--log-level", "debug"},
		env(Env("ping-interval"), "4s", Env("ping-timeout"), "5s", Env("api-token"), "tok", Env("log-level"), "error"),
	)
	if err != nil {
		t.Fatal(err)
	}
	c := l.Config
	check := func(name string, got, want any, src Source) {
		t.Helper()
		if !reflect.DeepEqual(got, want) || l.Sources[name] != src {
			t.Errorf("%s = %v from %v, want %v from %v", name, got, l.Sources[name], want, src)
		}
	}
	check("ping-interval", c.PingInterval, 3*time.Second, FromFlag) // flag > env > file
	check("ping-timeout", c.PingTimeout, 5*time.Second, FromEnv)    // env > file
	check("max-payload", c.MaxPayload, 5000, FromFile)              // file > default
	check("log-format", c.LogFormat, "json", FromFile)
	check("log-level", c.LogLevel, slog.LevelDebug, FromFlag)
	check("cors-origins", c.CORSOrigins, []string{"https://a.example", "http://b.example:8080"}, FromFile)
	check("max-connections", c.MaxConnections, 100, FromFile)
	check("api-token", c.APIToken, "tok", FromEnv)
	check("path", c.Path, "/socket.io/", FromDefault)
	if l.File != file {
		t.Errorf("file %q", l.File)
	}
}

func TestConfigFileFromEnvironment(t *testing.T) {
	file := writeFile(t, `{"addr": "127.0.0.1:4000"}`)
	l, err := Load(nil, env(Env("config"), file))
	if err != nil {
		t.Fatal(err)
	}
	if l.Addr != "127.0.0.1:4000" {
		t.Errorf("addr %q", l.Addr)
	}
	// the flag names another file
	other := writeFile(t, `{"addr": "127.0.0.1:5000"}`)
	if l, err = Load([]string{"--config", other}, env(Env("config"), file)); err != nil || l.Addr != "127.0.0.1:5000" {
		t.Errorf("flag --config: %v %v", l, err)
	}
}

func TestPort(t *testing.T) {
	file := writeFile(t, `{"port": 4100}`)
	for _, tc := range []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"--port", "4000"}, nil, ":4000"},
		{[]string{"--addr", "127.0.0.1:1", "--port", "4000"}, nil, "127.0.0.1:4000"},
		{[]string{"--port", "4000", "--addr", "[::1]:1"}, nil, "[::1]:4000"},
		{nil, []string{Env("port"), "4001"}, ":4001"},
		{[]string{"--addr", "127.0.0.1:5"}, []string{Env("port"), "4001"}, "127.0.0.1:5"}, // addr from a stronger source
		{[]string{"--port", "4002"}, []string{Env("addr"), "10.0.0.1:1"}, "10.0.0.1:4002"},
		{[]string{"--config", file}, nil, ":4100"},
		{[]string{"--config", file, "--addr", "127.0.0.1:7"}, nil, "127.0.0.1:7"},
		{[]string{"--port", "0"}, nil, ":3000"},
	} {
		l, err := Load(tc.args, env(tc.env...))
		if err != nil {
			t.Errorf("%v %v: %v", tc.args, tc.env, err)
			continue
		}
		if l.Addr != tc.want {
			t.Errorf("%v %v: addr %q, want %q", tc.args, tc.env, l.Addr, tc.want)
		}
	}
}

func TestValidation(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"--ping-interval", "abc"}, nil, `flag --ping-interval: invalid value "abc": not a duration`},
		{[]string{"--ping-interval", "0s"}, nil, "must be at least 1ms"},
		{[]string{"--shutdown-grace", "-1s"}, nil, "must not be negative"},
		{nil, []string{Env("ping-timeout"), "soon"}, `environment variable FASTIO_PING_TIMEOUT: invalid value "soon"`},
		{[]string{"--addr", "3000"}, nil, "want host:port"},
		{[]string{"--addr", ":99999"}, nil, "must be between 0 and 65535"},
		{[]string{"--port", "http"}, nil, `flag --port: invalid value "http": not an integer`},
		{[]string{"--path", "socket"}, nil, "must start with /"},
		{[]string{"--path", "/"}, nil, "must not be /"},
		{[]string{"--path", "/a?b"}, nil, "must not contain"},
		{[]string{"--path", "/api/"}, nil, `"/api/" would hide /api/emit`},
		{[]string{"--event-loops", "-1"}, nil, "must be between 0 and 4096"},
		{[]string{"--max-payload", "0"}, nil, "must be between 1 and"},
		{[]string{"--max-payload", "2GiB"}, nil, "must be between 1 and"},
		{[]string{"--max-payload", "12xb"}, nil, `unknown size unit "xb"`},
		{[]string{"--max-connections", "-5"}, nil, "must be between 0"},
		{[]string{"--max-tcp-connections", "many"}, nil, "max-tcp-connections"},
		{[]string{"--max-tcp-connections-per-ip", "-1"}, nil, "must be between 0"},
		{[]string{"--max-connections", "10", "--max-connections-per-ip", "20"}, nil, "max-connections-per-ip (flag) is larger than max-connections (flag)"},
		{[]string{"--cors-origins", "example.com"}, nil, "want * or scheme://host[:port]"},
		{[]string{"--cors-origins", "*,https://a.example"}, nil, "list no others"},
		{[]string{"--cors-origins", "https://a.example/path"}, nil, "want * or scheme://host"},
		{[]string{"--log-level", "loud"}, nil, "want debug, info, warn or error"},
		{[]string{"--log-format", "xml"}, nil, "want text or json"},
		{[]string{"--api-token", "two words"}, nil, "must not contain spaces"},
		{[]string{"--bogus"}, nil, "flag provided but not defined: -bogus"},
		{[]string{"--addr"}, nil, "flag needs an argument"},
		{[]string{"extra"}, nil, `unexpected argument "extra"`},
		{[]string{"--config", "/nonexistent/fastio.json"}, nil, "config file /nonexistent/fastio.json: no such file or directory"},
		{[]string{"--config", os.TempDir()}, nil, "is a directory"},
	} {
		_, err := Load(tc.args, env(tc.env...))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: error %v, want %q", tc.args, tc.env, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error of several lines: %q", tc.args, err)
		}
	}
}

func TestConfigFileErrors(t *testing.T) {
	for _, tc := range []struct{ content, want string }{
		{`{"addr": ":1",`, "not a JSON object"},
		{"{\n\"addr\": :1}", "line 2"},
		{`[1]`, "not a JSON object"},
		{`{"nope": 1}`, `unknown setting "nope"`},
		{`{"config": "x.json"}`, `"config" cannot be set inside a config file`},
		{`{"max-payload": "lots"}`, `setting "max-payload": invalid value "lots"`},
		{`{"max-payload": {"a": 1}}`, "want a string, a number"},
		{`{"cors-origins": [1]}`, "only strings"},
		{`{"addr": ":1"} {}`, "data after the JSON object"},
	} {
		file := writeFile(t, tc.content)
		_, err := Load([]string{"--config", file}, env())
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "config file "+file) {
			t.Errorf("%s: error %v, want %q", tc.content, err, tc.want)
		}
	}
}

func TestFileValueKinds(t *testing.T) {
	file := writeFile(t, `{"max-payload": "64KiB", "ping-interval": "250ms", "event-loops": 3, "cors-origins": "", "api-max-body": "2MB"}`)
	l, err := Load([]string{"--config", file}, env())
	if err != nil {
		t.Fatal(err)
	}
	if l.MaxPayload != 64<<10 || l.PingInterval != 250*time.Millisecond || l.EventLoops != 3 || len(l.CORSOrigins) != 0 || l.APIMaxBody != 2_000_000 {
		t.Errorf("%+v", l.Config)
	}
}

func TestSizes(t *testing.T) {
	for in, want := range map[string]int{
		"1000000": 1_000_000, "512KiB": 512 << 10, "16MiB": 16 << 20, "1 MB": 1_000_000, "2kB": 2000, "1GiB": 1 << 30, "7b": 7,
	} {
		if got, err := parseSize(in, 1, 1<<30); err != nil || got != want {
			t.Errorf("%q: %d %v, want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1", "1.5MiB", "99999999999999999999", "9999999999GiB"} {
		if _, err := parseSize(in, 1, 1<<30); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestHelp(t *testing.T) {
	if _, err := Load([]string{"-h"}, env()); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
	var b bytes.Buffer
	Usage(&b)
	for _, o := range options {
		if !strings.Contains(b.String(), "--"+o.name) || !strings.Contains(b.String(), Env(o.name)) {
			t.Errorf("usage lacks %s", o.name)
		}
	}
}

func TestSettingsRedactToken(t *testing.T) {
	l, err := Load([]string{"--api-token", "s3cret"}, env())
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range l.Settings() {
		if s, ok := v.(string); ok && strings.Contains(s, "s3cret") {
			t.Errorf("the token is logged: %v", l.Settings())
		}
	}
}

func TestTLS(t *testing.T) {
	cert, key, _ := apptest.Certificate(t)
	l, err := Load([]string{"--tls-cert", cert, "--tls-key", key}, env())
	if err != nil {
		t.Fatal(err)
	}
	if l.TLSCert != cert || l.TLSKey != key || l.Certificate == nil || l.Certificate.Leaf == nil ||
		l.Certificate.Leaf.Subject.CommonName != "fastio self-signed" {
		t.Errorf("%+v %v", l.Config, l.Certificate)
	}
	// From the environment and the config file, under the names derived from the flags.
	if Env("tls-cert") != "FASTIO_TLS_CERT" || Env("tls-key") != "FASTIO_TLS_KEY" {
		t.Errorf("env names %s %s", Env("tls-cert"), Env("tls-key"))
	}
	file := writeFile(t, `{"tls-cert": "`+cert+`"}`)
	l, err = Load([]string{"--config", file}, env(Env("tls-key"), key))
	if err != nil {
		t.Fatal(err)
	}
	if l.Certificate == nil || l.Sources["tls-cert"] != FromFile || l.Sources["tls-key"] != FromEnv {
		t.Errorf("%v %v", l.Certificate, l.Sources)
	}
	// Logged: the files, not what is in them.
	settings := fmt.Sprint(l.Settings()...)
	if !strings.Contains(settings, "tls_cert"+cert) || !strings.Contains(settings, "tls_key"+key) || strings.Contains(settings, "PRIVATE") {
		t.Errorf("settings %s", settings)
	}
	// Without TLS: nothing loaded.
	if l, err = Load(nil, env()); err != nil || l.Certificate != nil {
		t.Errorf("%v %v", l.Certificate, err)
	}
}

func TestTLSErrors(t *testing.T) {
	cert, key, _ := apptest.Certificate(t)
	_, otherKey, _ := apptest.Certificate(t)
	garbage := writeFile(t, "not PEM")
	for _, tc := range []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"--tls-cert", cert}, nil, "tls-cert (flag) is set without tls-key: TLS needs both, or neither"},
		{nil, []string{Env("tls-key"), key}, "tls-key (environment) is set without tls-cert: TLS needs both, or neither"},
		{[]string{"--tls-cert", "/nonexistent/cert.pem", "--tls-key", key}, nil,
			"tls-cert (flag): cannot read /nonexistent/cert.pem: no such file or directory"},
		{[]string{"--tls-cert", cert, "--tls-key", "/nonexistent/key.pem"}, nil,
			"tls-key (flag): cannot read /nonexistent/key.pem: no such file or directory"},
		{[]string{"--tls-cert", os.TempDir(), "--tls-key", key}, nil, "is a directory"},
		{[]string{"--tls-cert", cert, "--tls-key", otherKey}, nil,
			"tls-cert (flag), tls-key (flag): not a usable certificate and key: tls: private key does not match public key"},
		{[]string{"--tls-cert", key, "--tls-key", cert}, nil, "PEM inputs may have been switched"},
		{[]string{"--tls-cert", garbage, "--tls-key", key}, nil, "not a usable certificate and key: tls: failed to find any PEM data in certificate input"},
	} {
		_, err := Load(tc.args, env(tc.env...))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: error %v, want %q", tc.args, tc.env, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error of several lines: %q", tc.args, err)
		}
	}
}
