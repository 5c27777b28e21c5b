package selfsigned

import (
	"crypto/tls"
	"crypto/x509"
	"testing"
	"time"
)

func TestCertificateVerifiesForLoopback(t *testing.T) {
	c, err := New(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"127.0.0.1", "::1", "localhost"} {
		if _, err := c.TLS.Leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: c.Roots}); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
	if _, err := c.TLS.Leaf.Verify(x509.VerifyOptions{DNSName: "example.com", Roots: c.Roots}); err == nil {
		t.Error("verified for example.com")
	}
	pair, err := tls.X509KeyPair(c.CertPEM, c.KeyPEM)
	if err != nil {
		t.Fatalf("PEM pair: %v", err)
	}
	if len(pair.Certificate) != 1 {
		t.Fatalf("%d certificates in the PEM", len(pair.Certificate))
	}
}
