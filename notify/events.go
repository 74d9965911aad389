package notify

import (
	"strconv"
	"time"

	"github.com/portrait-scanner/portrait/diff"
	"github.com/portrait-scanner/portrait/policy"
	"github.com/portrait-scanner/portrait/store"
)

// FromDiff makes one event per change. Their ids depend on the two scans
// and the change, so notifying the same diff twice sends nothing new.
func FromDiff(d *diff.Diff, tags ...string) []Event {
	now := time.Now().UTC().Format(time.RFC3339)
	out := make([]Event, 0, len(d.Changes))
	for _, c := range d.Changes {
		title := c.Kind
		switch c.Kind {
		case diff.HostAdded:
			title = "new host up"
		case diff.HostRemoved:
			title = "host no longer up"
		case diff.PortOpened:
			title = "port opened: " + c.After
		case diff.PortClosed:
			title = "port closed (was " + c.Before + ")"
		case diff.ServiceChanged, diff.ProductChanged, diff.VersionChanged:
			title = c.Before + " -> " + c.After
		case diff.FindingAdded:
			title = "new finding: " + c.After
		case diff.FindingRemoved:
			title = "finding gone: " + c.Before
		}
		out = append(out, Event{
			ID:   EventID("diff", d.A.ID, d.B.ID, c.Kind, c.Host, strconv.Itoa(c.Port), c.Transport, c.Before, c.After, c.Finding),
			Kind: c.Kind, Source: "diff", Severity: c.Severity, Host: c.Host, Hostname: c.Hostname, Port: c.Port,
			Transport: c.Transport, Title: title, Before: c.Before, After: c.After,
			Tags: append([]string{"diff", c.Kind}, tags...), Scan: d.B.ID, Previous: d.A.ID, Time: now,
		})
	}
	return out
}

// FromDeviations makes one event per policy deviation of a scan.
func FromDeviations(scanID string, devs []policy.Deviation, tags ...string) []Event {
	now := time.Now().UTC().Format(time.RFC3339)
	out := make([]Event, 0, len(devs))
	for _, d := range devs {
		out = append(out, Event{
			ID:   EventID("policy", scanID, d.Policy, d.Kind, d.Host, strconv.Itoa(d.Port), d.Transport, d.Observed),
			Kind: d.ID, Source: "policy", Severity: d.Severity, Host: d.Host, Hostname: d.Hostname, Port: d.Port,
			Transport: d.Transport, Title: d.Title, Before: d.Expected, After: d.Observed,
			Tags: append([]string{"policy", d.Kind, d.Policy}, tags...), Scan: scanID, Time: now,
		})
	}
	return out
}

// FromFindings makes one event per finding record of a scan (the stages'
// vulnerabilities and misconfigurations).
func FromFindings(scanID string, fs []store.Finding, tags ...string) []Event {
	now := time.Now().UTC().Format(time.RFC3339)
	out := make([]Event, 0, len(fs))
	for _, f := range fs {
		sev := f.Severity
		if severityRank(sev) < 0 {
			sev = "info"
		}
		out = append(out, Event{
			ID:   EventID("finding", scanID, f.Host, strconv.Itoa(f.Port), f.ID, f.Title),
			Kind: "finding", Source: "finding", Severity: sev, Host: f.Host, Port: f.Port,
			Title: f.ID + ": " + f.Title, Tags: append(append([]string{"finding"}, f.Tags...), tags...), Scan: scanID, Time: now,
		})
	}
	return out
}
