// Package distro recognises operating system distributions and their
// package builds in the strings servers print: OpenSSH's banner comment
// ("Debian-2+deb12u10", "Ubuntu-3ubuntu0.10"), HTTP Server headers
// ("Apache/2.4.41 (Ubuntu)"), MySQL/MariaDB versions
// ("10.11.19-MariaDB-0+deb12u1"), BIND's version.bind
// ("9.18.49-1~deb12u3-Debian"), RPM release tags ("el8_6").
//
// A distribution build matters twice: it names the OS (asset profiling),
// and it means the upstream version number no longer tells which fixes
// are in: Debian, Ubuntu, RHEL and SUSE backport security fixes without
// changing it, so version-matched CVEs are only "potential".
package distro

import (
	"regexp"
	"strings"
)

// Hint is what a string says about the distribution.
type Hint struct {
	Distribution string // "Debian", "Ubuntu", "RHEL", "Fedora", "Amazon Linux", "SUSE", "FreeBSD"...
	Release      string // "12", "22.04", "8.6"; "" when unknown
	// Backports is true for distributions that patch security fixes into
	// an unchanged upstream version.
	Backports bool
	// Marker is the text that showed it ("+deb12u10", "(Ubuntu)", "el8_6").
	Marker string
}

// maxInput bounds the text examined.
const maxInput = 512

var (
	reDeb      = regexp.MustCompile(`[+~]deb(\d{1,2})u\d+`)
	reDebBare  = regexp.MustCompile(`[+~]deb(\d{1,2})\b`)
	reBpo      = regexp.MustCompile(`~bpo(\d{1,2})`)
	reUbuntuV  = regexp.MustCompile(`ubuntu\d*(?:\.\d+)*?[._~]?(1[4-9]|2\d)\.(04|10)\b`)
	reUbuntu   = regexp.MustCompile(`\dubuntu\d`)
	reEL       = regexp.MustCompile(`\.el(\d{1,2})(?:_(\d{1,2}))?\b`)
	reFC       = regexp.MustCompile(`\.fc(\d{2})\b`)
	reAmzn     = regexp.MustCompile(`\.amzn(\d{1,4})\b`)
	reSUSE     = regexp.MustCompile(`(?i)\b(?:open)?suse\b`)
	reFreeBSD  = regexp.MustCompile(`(?i)\bfreebsd\b`)
	reRaspbian = regexp.MustCompile(`(?i)\braspbian\b`)
)

// words maps a distribution name printed in clear ("(Debian)",
// "Debian-", "Ubuntu") to its canonical name and backport habit.
var words = []struct {
	re        *regexp.Regexp
	name      string
	backports bool
}{
	{regexp.MustCompile(`(?i)\bdebian\b`), "Debian", true},
	{regexp.MustCompile(`(?i)\bubuntu\b`), "Ubuntu", true},
	{reRaspbian, "Raspbian", true},
	{regexp.MustCompile(`(?i)\bred ?hat\b|\brhel\b`), "RHEL", true},
	{regexp.MustCompile(`(?i)\bcentos\b`), "CentOS", true},
	{regexp.MustCompile(`(?i)\brocky\b`), "Rocky Linux", true},
	{regexp.MustCompile(`(?i)\balmalinux\b`), "AlmaLinux", true},
	{regexp.MustCompile(`(?i)\bfedora\b`), "Fedora", false},
	{regexp.MustCompile(`(?i)\bamazon linux\b`), "Amazon Linux", true},
	{reSUSE, "SUSE", true},
	{regexp.MustCompile(`(?i)\balpine\b`), "Alpine", false},
	{reFreeBSD, "FreeBSD", false},
	{regexp.MustCompile(`(?i)\bgentoo\b`), "Gentoo", false},
	{regexp.MustCompile(`(?i)\barch ?linux\b`), "Arch Linux", false},
}

// Parse reads a distribution hint from s. ok is false when s shows none.
func Parse(s string) (h Hint, ok bool) {
	if len(s) > maxInput {
		s = s[:maxInput]
	}
	low := strings.ToLower(s)
	if m := reDeb.FindStringSubmatch(low); m != nil {
		return Hint{Distribution: "Debian", Release: m[1], Backports: true, Marker: m[0]}, true
	}
	if m := reBpo.FindStringSubmatch(low); m != nil {
		return Hint{Distribution: "Debian", Release: m[1], Backports: true, Marker: m[0]}, true
	}
	if m := reDebBare.FindStringSubmatch(low); m != nil {
		return Hint{Distribution: "Debian", Release: m[1], Backports: true, Marker: m[0]}, true
	}
	if m := reUbuntuV.FindStringSubmatch(low); m != nil {
		return Hint{Distribution: "Ubuntu", Release: m[1] + "." + m[2], Backports: true, Marker: m[0]}, true
	}
	if m := reUbuntu.FindString(low); m != "" {
		return Hint{Distribution: "Ubuntu", Backports: true, Marker: m}, true
	}
	if m := reEL.FindStringSubmatch(low); m != nil {
		rel := m[1]
		if m[2] != "" {
			rel += "." + m[2]
		}
		return Hint{Distribution: "RHEL", Release: rel, Backports: true, Marker: m[0]}, true
	}
	if m := reFC.FindStringSubmatch(low); m != nil {
		return Hint{Distribution: "Fedora", Release: m[1], Marker: m[0]}, true
	}
	if m := reAmzn.FindStringSubmatch(low); m != nil {
		return Hint{Distribution: "Amazon Linux", Release: m[1], Backports: true, Marker: m[0]}, true
	}
	for _, w := range words {
		if loc := w.re.FindStringIndex(s); loc != nil {
			return Hint{Distribution: w.name, Backports: w.backports, Marker: s[loc[0]:loc[1]]}, true
		}
	}
	return Hint{}, false
}

// Family returns the OS family of a distribution name.
func Family(dist string) string {
	switch dist {
	case "FreeBSD", "OpenBSD", "NetBSD":
		return "BSD"
	case "Windows":
		return "Windows"
	case "macOS":
		return "macOS"
	case "":
		return ""
	}
	return "Linux"
}

// defaultOpenSSH maps the OpenSSH version a distribution release ships to
// that release (the version stays the same for the release's lifetime;
// only the package revision moves).
var defaultOpenSSH = map[string]map[string]string{
	"Debian": {"6.7p1": "8", "7.4p1": "9", "7.9p1": "10", "8.4p1": "11", "9.2p1": "12", "10.0p1": "13"},
	"Ubuntu": {"6.6p1": "14.04", "7.2p2": "16.04", "7.6p1": "18.04", "8.2p1": "20.04", "8.9p1": "22.04", "9.6p1": "24.04"},
}

// ReleaseFromOpenSSH returns the release of dist that ships OpenSSH v
// ("" when unknown).
func ReleaseFromOpenSSH(dist, v string) string {
	return defaultOpenSSH[dist][v]
}

// ReleaseName names a release for people ("Debian 12 (bookworm)").
func ReleaseName(dist, rel string) string {
	if rel == "" {
		return dist
	}
	if n := codenames[dist+" "+rel]; n != "" {
		return dist + " " + rel + " (" + n + ")"
	}
	return dist + " " + rel
}

var codenames = map[string]string{
	"Debian 8": "jessie", "Debian 9": "stretch", "Debian 10": "buster", "Debian 11": "bullseye",
	"Debian 12": "bookworm", "Debian 13": "trixie",
	"Ubuntu 16.04": "xenial", "Ubuntu 18.04": "bionic", "Ubuntu 20.04": "focal", "Ubuntu 22.04": "jammy", "Ubuntu 24.04": "noble",
}
