package emulate

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
)

type keyKind struct {
	rsaBits int
	curve   elliptic.Curve
}

// keySpec parses "RSA-2048", "ECDSA-P256"...
func keySpec(s string) (keyKind, error) {
	kind, size, _ := strings.Cut(strings.ToUpper(s), "-")
	switch kind {
	case "RSA":
		n, err := strconv.Atoi(size)
		if err != nil || n < 1024 || n > 8192 {
			return keyKind{}, fmt.Errorf("tls.key %q: RSA size must be 1024-8192", s)
		}
		return keyKind{rsaBits: n}, nil
	case "ECDSA":
		switch size {
		case "P256":
			return keyKind{curve: elliptic.P256()}, nil
		case "P384":
			return keyKind{curve: elliptic.P384()}, nil
		case "P521":
			return keyKind{curve: elliptic.P521()}, nil
		}
	}
	return keyKind{}, fmt.Errorf("tls.key %q: want RSA-<bits> or ECDSA-P256/P384/P521", s)
}

// lookOf describes a certificate for the personality.
func lookOf(c *x509.Certificate) *TLSLook {
	l := &TLSLook{
		Subject:   c.Subject.String(),
		Issuer:    c.Issuer.String(),
		DNSNames:  c.DNSNames,
		Serial:    hex.EncodeToString(c.SerialNumber.Bytes()),
		NotBefore: c.NotBefore.UTC(),
		NotAfter:  c.NotAfter.UTC(),
	}
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		l.Key = fmt.Sprintf("RSA-%d", k.N.BitLen())
	case *ecdsa.PublicKey:
		l.Key = "ECDSA-" + strings.ReplaceAll(k.Curve.Params().Name, "-", "")
	default:
		l.Key = "RSA-2048"
	}
	if l.Issuer == l.Subject {
		l.Issuer = ""
	}
	return l
}

// parseDN reads the RFC 4514 form pkix.Name.String() writes (commas
// escaped with a backslash), for the attributes certificates commonly
// carry.
func parseDN(s string) pkix.Name {
	var n pkix.Name
	var parts []string
	cur := strings.Builder{}
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s):
			cur.WriteByte(s[i+1])
			i++
		case s[i] == ',' || s[i] == '+':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(s[i])
		}
	}
	if cur.Len() > 0 {
		parts = append(parts, cur.String())
	}
	// pkix.Name.String lists the RDNs last first.
	for i := len(parts) - 1; i >= 0; i-- {
		k, v, ok := strings.Cut(parts[i], "=")
		if !ok {
			continue
		}
		switch strings.ToUpper(strings.TrimSpace(k)) {
		case "CN":
			n.CommonName = v
		case "O":
			n.Organization = append(n.Organization, v)
		case "OU":
			n.OrganizationalUnit = append(n.OrganizationalUnit, v)
		case "C":
			n.Country = append(n.Country, v)
		case "L":
			n.Locality = append(n.Locality, v)
		case "ST":
			n.Province = append(n.Province, v)
		case "STREET":
			n.StreetAddress = append(n.StreetAddress, v)
		case "POSTALCODE":
			n.PostalCode = append(n.PostalCode, v)
		case "SERIALNUMBER":
			n.SerialNumber = v
		}
	}
	return n
}

// certificate generates the look-alike: same subject, issuer name, names,
// validity, serial and key type; signed by its own fresh key.
func (l *TLSLook) certificate(recorded time.Time) (tls.Certificate, error) {
	spec, err := keySpec(l.Key)
	if err != nil {
		spec = keyKind{rsaBits: 2048}
	}
	var key crypto.Signer
	if spec.curve != nil {
		key, err = ecdsa.GenerateKey(spec.curve, rand.Reader)
	} else {
		key, err = rsa.GenerateKey(rand.Reader, spec.rsaBits)
	}
	if err != nil {
		return tls.Certificate{}, err
	}
	serial := new(big.Int)
	if b, err := hex.DecodeString(l.Serial); err == nil && len(b) > 0 && len(b) <= 20 {
		serial.SetBytes(b)
	} else {
		serial, _ = rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	}
	nb, na := l.NotBefore, l.NotAfter
	if l.Relative && !recorded.IsZero() {
		shift := time.Since(recorded)
		nb, na = nb.Add(shift), na.Add(shift)
	}
	if nb.IsZero() || na.IsZero() || !na.After(nb) {
		nb, na = time.Now().Add(-time.Hour), time.Now().Add(365*24*time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               parseDN(l.Subject),
		DNSNames:              l.DNSNames,
		NotBefore:             nb,
		NotAfter:              na,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	parent := tmpl
	if l.Issuer != "" {
		p := *tmpl
		p.Subject = parseDN(l.Issuer)
		parent = &p
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
