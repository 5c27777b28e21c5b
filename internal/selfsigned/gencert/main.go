// Command gencert writes a throwaway self-signed certificate for the loopback addresses, valid for a day, as
// cert.pem and key.pem in the directory given as its argument (created if needed). The browser test uses it to
// run the demo over HTTPS.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/fastio/fastio/internal/selfsigned"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gencert DIR")
		os.Exit(2)
	}
	if err := write(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "gencert:", err)
		os.Exit(1)
	}
}

func write(dir string) error {
	c, err := selfsigned.New(24 * time.Hour)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), c.CertPEM, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "key.pem"), c.KeyPEM, 0o600)
}
