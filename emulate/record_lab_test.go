package emulate

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/fingerprint"
	"github.com/portrait-scanner/portrait/fingerprint/catalogs"
	"github.com/portrait-scanner/portrait/protocol/all"
)

// labOriginals are the lab servers the shipped personalities come from
// (/work/shared/lab/truth.json): file name, protocol, port.
var labOriginals = []struct {
	file, protocol string
	port           int
}{
	{"postfix", "smtp", 25},
	{"exim", "smtp", 2525},
	{"vsftpd", "ftp", 21},
	{"proftpd", "ftp", 2121},
	{"pure-ftpd", "ftp", 3021},
	{"dovecot-pop3", "pop3", 110},
	{"dovecot-imap", "imap", 143},
	{"openssh", "ssh", 22},
	{"nginx", "http", 80},
	{"apache", "http", 9443},
}

// TestRecordLab re-records the shipped personalities from the lab's real
// servers on 127.0.0.1 (PORTRAIT_RECORD=1; PORTRAIT_RECORD_ONLY=name
// records one).
func TestRecordLab(t *testing.T) {
	if os.Getenv("PORTRAIT_RECORD") != "1" {
		t.Skip("set PORTRAIT_RECORD=1 to record the lab's servers")
	}
	only := os.Getenv("PORTRAIT_RECORD_ONLY")
	for _, o := range labOriginals {
		if only != "" && only != o.file {
			continue
		}
		t.Run(o.file, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			p, err := Record(ctx, RecordOptions{
				Target:   "127.0.0.1:" + strconv.Itoa(o.port),
				Protocol: o.protocol,
				Name:     o.file,
				By:       "portrait emulate/record_lab_test.go",
				Progress: t.Logf,
			})
			if err != nil {
				t.Fatal(err)
			}
			p.Recorded.Identity = labIdentity(t, o.port)
			b, err := p.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join("personalities", o.file+".yaml"), b, 0o644); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// labIdentity is what portrait says about the original.
func labIdentity(t *testing.T, port int) string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cat, _, err := catalogs.LoadCatalogs(ctx, catalogs.Options{NoSynced: true})
	if err != nil {
		t.Fatal(err)
	}
	probes, err := fingerprint.BuiltinProbes()
	if err != nil {
		t.Fatal(err)
	}
	svc := fingerprint.New(fingerprint.Config{}, all.Modules(), cat, probes, nil).
		Identify(ctx, fingerprint.Target{Addr: netip.MustParseAddr("127.0.0.1"), Port: port})
	return IdentityOf(svc)
}
