package bench

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"syscall"

	"github.com/gobwas/ws"
)

// Error is a connection failure with its kind, the key under which results count failures.
//
// Kinds: dial_refused, dial_timeout, dial_addr_unavailable (source address not bindable or ports exhausted),
// dial_too_many_files, dial (other), ws_status_NNN (the upgrade answered another status), ws_handshake,
// eio_open (bad open packet), sio_connect_error (the server refused CONNECT), sio_connect (bad reply), and for a
// failure while waiting for a step: timeout_<step> or closed_<step> with step ws, open, sio or upgrade; canceled.
// Over polling: http_status_NNN (a request answered with another status than 200), eio_upgrade (the probe or the
// upgrade went wrong).
type Error struct {
	Kind string
	Err  error
}

// Error returns the kind and the underlying error.
func (e *Error) Error() string { return e.Kind + ": " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// ErrorKind returns the kind of a connection error: the Kind of an *Error in its chain, else "other".
func ErrorKind(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return "other"
}

func dialError(err error) *Error {
	kind := "dial"
	switch {
	case errors.Is(err, context.Canceled):
		kind = "canceled"
	case errors.Is(err, syscall.ECONNREFUSED):
		kind = "dial_refused"
	case errors.Is(err, syscall.EADDRNOTAVAIL), errors.Is(err, syscall.EADDRINUSE):
		kind = "dial_addr_unavailable"
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		kind = "dial_too_many_files"
	case isTimeout(err):
		kind = "dial_timeout"
	}
	return &Error{Kind: kind, Err: err}
}

// stepError classifies a failure after the TCP connect, during step (ws, open, sio).
func stepError(step string, err error) *Error {
	var se ws.StatusError
	switch {
	case errors.Is(err, context.Canceled):
		return &Error{Kind: "canceled", Err: err}
	case isTimeout(err):
		return &Error{Kind: "timeout_" + step, Err: err}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, net.ErrClosed), errors.Is(err, errServerClosed):
		return &Error{Kind: "closed_" + step, Err: err}
	case errors.As(err, &se):
		return &Error{Kind: "ws_status_" + strconv.Itoa(int(se)), Err: err}
	case errors.Is(err, errConnectError):
		return &Error{Kind: "sio_connect_error", Err: err}
	}
	switch step {
	case "upgrade":
		return &Error{Kind: "eio_upgrade", Err: err}
	case "ws":
		return &Error{Kind: "ws_handshake", Err: err}
	case "open":
		return &Error{Kind: "eio_open", Err: err}
	}
	return &Error{Kind: "sio_connect", Err: err}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout())
}
