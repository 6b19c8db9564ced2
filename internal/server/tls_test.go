package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns
// their paths and a pool that trusts the certificate.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "forewarn test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestServesTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	h := startServe(t, "", newFake(t, 10, nil), func(c *Config) { c.TLSCert, c.TLSKey = certFile, keyFile })
	if !strings.HasPrefix(h.base, "https://") {
		t.Fatalf("base %s", h.base)
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	req, _ := http.NewRequest("GET", h.base+"/api/v1/feeds", nil)
	req.Header.Set("Authorization", "Bearer "+h.admin)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Fatalf("over TLS: %d, TLS %v", resp.StatusCode, resp.TLS != nil)
	}
	// Plain HTTP to the TLS port gets nothing useful.
	if resp, err := client.Get(strings.Replace(h.base, "https", "http", 1) + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("plain HTTP was served on the TLS port")
		}
	}
	if strings.Contains(h.logs.String(), "plain HTTP") {
		t.Fatal("warned about plain HTTP while serving TLS")
	}
}

func TestWarnsAboutPlainHTTPBeyondLoopback(t *testing.T) {
	h := startServe(t, "", newFake(t, 10, nil), func(c *Config) { c.Listen = "0.0.0.0:0" })
	h.must(200, "GET", "/healthz", "", nil)
	if !strings.Contains(h.logs.String(), "serving plain HTTP on a non-loopback address") {
		t.Fatalf("no warning:\n%s", h.logs)
	}
	h2 := startServe(t, "", newFake(t, 10, nil))
	if strings.Contains(h2.logs.String(), "plain HTTP") {
		t.Fatal("warned on loopback")
	}
}

func TestHalfATLSConfigurationIsAnError(t *testing.T) {
	err := Run(t.Context(), Config{DB: filepath.Join(t.TempDir(), "x.db"), TLSCert: "cert.pem"})
	if err == nil || !strings.Contains(err.Error(), "--tls-key") {
		t.Fatalf("got %v", err)
	}
}
