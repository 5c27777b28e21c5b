// Command fastio is the fastio Socket.IO server.
//
//	fastio testserver [flags]   serve the conformance test server (see testserver-contract.md)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/fastio/fastio/internal/testserver"
)

const usage = `usage: fastio <command> [flags]

commands:
  testserver   serve the conformance test server: an Engine.IO echo at /engine.io/
`

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "fastio:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return errors.New("no command given")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "testserver":
		return runTestServer(ctx, args[1:])
	case "-h", "--help", "help":
		fmt.Print(usage)
		return nil
	}
	fmt.Fprint(os.Stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

func runTestServer(ctx context.Context, args []string) error {
	cfg := testserver.DefaultConfig()
	fs := flag.NewFlagSet("testserver", flag.ContinueOnError)
	cfg.Flags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := testserver.New(cfg)
	if err != nil {
		return err
	}
	return srv.Serve(ctx)
}
