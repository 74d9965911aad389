package emulate

import (
	"fmt"
	"strings"

	"github.com/portrait-scanner/portrait/fingerprint"
)

// IdentityOf renders what portrait said about a server, for
// recorded.identity: "smtp Postfix smtpd (os Debian) confidence 95".
func IdentityOf(s *fingerprint.Service) string {
	if s == nil || s.Service == "" {
		return ""
	}
	parts := []string{s.Service}
	for _, x := range []string{s.Product, s.Version, s.Info} {
		if x != "" {
			parts = append(parts, x)
		}
	}
	if s.OS != "" {
		parts = append(parts, "(os "+s.OS+")")
	}
	return fmt.Sprintf("%s, confidence %d", strings.Join(parts, " "), s.Confidence)
}
