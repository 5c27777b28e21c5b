// Command fastio is the fastio Socket.IO server.
//
//	fastio [demo] [flags]       serve the demo app (the seed's chat server, its page, /metrics, the publish API) on :3000
//	fastio testserver [flags]   serve the conformance test server (testserver-contract.md)
//	fastio bench <scenario> ... run the load generator against a Socket.IO server
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/fastio/fastio/bench"
	"github.com/fastio/fastio/internal/app"
	"github.com/fastio/fastio/internal/app/config"
	"github.com/fastio/fastio/internal/testserver"
)

const usage = `usage: fastio [command] [flags]

commands:
  demo         (default) the demo app: the seed's chat server, the demo page, /metrics and the publish API on :3000
  testserver   the conformance test server: Engine.IO echo at /engine.io/, Socket.IO at /socket.io/
  bench        the load generator: fastio bench <scenario> --help

Run "fastio <command> -h" for the flags of a command.
`

func main() {
	if err := run(os.Args[1:]); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "fastio:", err)
		}
		os.Exit(1)
	}
}

func run(args []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	cmd := "demo"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "demo":
		return runDemo(ctx, stop, args)
	case "testserver":
		return runTestServer(ctx, args)
	case "bench":
		return bench.Main(ctx, args, os.Stdout, os.Stderr)
	case "help":
		fmt.Print(usage)
		return nil
	}
	fmt.Fprint(os.Stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

func runDemo(ctx context.Context, stop context.CancelFunc, args []string) error {
	cfg, err := config.Load(args, os.LookupEnv)
	if errors.Is(err, flag.ErrHelp) {
		config.Usage(os.Stdout)
		return nil
	}
	if err != nil {
		return err
	}
	a, err := app.New(cfg, app.NewLogger(&cfg.Config, os.Stderr))
	if err != nil {
		return err
	}
	// After the first signal the shutdown runs; a second one kills the process at once.
	context.AfterFunc(ctx, stop)
	return a.Run(ctx)
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
