package coordserver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
)

// peerTLS returns the TLS settings of the peer listener: a loopback port,
// which etcd cannot put on a Unix socket, so any local user could reach
// etcd's peer API there (raft messages, lease renewals). It demands a
// client certificate signed by a key of the store's own, kept in dir
// (mode 0700): nobody but the store's owner has one, and no peer dials.
func peerTLS(dir string) (transport.TLSInfo, error) {
	certFile, keyFile := filepath.Join(dir, "peer.crt"), filepath.Join(dir, "peer.key")
	_, errCert := os.Stat(certFile)
	_, errKey := os.Stat(keyFile)
	if errors.Is(errCert, os.ErrNotExist) || errors.Is(errKey, os.ErrNotExist) {
		if err := writePeerCert(certFile, keyFile); err != nil {
			return transport.TLSInfo{}, fmt.Errorf("coordination store: peer certificate: %w", err)
		}
	}
	return transport.TLSInfo{CertFile: certFile, KeyFile: keyFile, TrustedCAFile: certFile, ClientCertAuth: true}, nil
}

// writePeerCert writes a fresh self-signed certificate for 127.0.0.1 and
// its key.
func writePeerCert(certFile, keyFile string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "pilotage coordination store peer"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(100, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
}
