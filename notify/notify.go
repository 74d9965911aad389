// Package notify sends scan events (diff changes, policy deviations,
// findings) to people and systems: a JSON webhook signed with HMAC-SHA256,
// a Slack-compatible incoming webhook, and email over SMTP with STARTTLS
// and authentication. Rules choose which events go to which channels by
// severity, kind and tag.
//
// Each event is delivered once per channel: a delivery log in the
// workspace (notifications.jsonl) records what each channel accepted, so
// running the same notification again (a monitor restarted, a retry after
// a crash) sends nothing twice; a delivery that failed is retried with
// exponential backoff and, if it still fails, is tried again on the next
// run. Webhook receivers get a stable X-Portrait-Delivery id as well, to
// drop a repeat should a response be lost on the way back.
//
// The configuration (the notifications: section of portrait's config.yaml,
// and of a workspace's workspace.yaml, whose channels and rules are added
// to the config file's):
//
//	notifications:
//	  channels:
//	    - name: ops
//	      type: webhook                    # JSON POST
//	      url: https://hooks.example/portrait
//	      secret: "…"                      # X-Portrait-Signature: sha256=<hex HMAC of the body>
//	      headers: {X-Team: ops}
//	    - name: chat
//	      type: slack                      # Slack, Mattermost, Rocket.Chat incoming webhooks
//	      url: https://hooks.slack.com/services/…
//	    - name: mail
//	      type: email
//	      smtp: {host: mail.example, port: 587, starttls: required, username: u, password: p}
//	      from: portrait@example
//	      to: [soc@example]
//	  rules:
//	    - name: new exposure
//	      channels: [ops, mail]
//	      min_severity: medium             # info, low, medium, high, critical
//	      kinds: [port-opened, service-changed, policy/unexpected-port]
//	      tags: [production]               # any of these tags (monitor name, policy name, source)
package notify

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the notifications section.
type Config struct {
	Channels []Channel `yaml:"channels"`
	Rules    []Rule    `yaml:"rules"`
}

// Channel is one destination.
type Channel struct {
	Name    string            `yaml:"name"`
	Type    string            `yaml:"type"` // webhook | slack | email
	URL     string            `yaml:"url"`
	Secret  string            `yaml:"secret"`
	Headers map[string]string `yaml:"headers"`
	SMTP    SMTP              `yaml:"smtp"`
	From    string            `yaml:"from"`
	To      []string          `yaml:"to"`
	// Retries after the first attempt (default 3); Backoff is the first
	// wait, doubled each time (default 1s); Timeout bounds one attempt
	// (default 15s).
	Retries *int          `yaml:"retries"`
	Backoff time.Duration `yaml:"backoff"`
	Timeout time.Duration `yaml:"timeout"`
}

// SMTP is an email channel's server.
type SMTP struct {
	Host     string `yaml:"host"`
	Port     int    `yaml:"port"`     // default 587 (25 with starttls: "off")
	StartTLS string `yaml:"starttls"` // required (default), opportunistic, off
	TLS      bool   `yaml:"tls"`      // implicit TLS (port 465)
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// InsecureSkipVerify accepts any certificate (test servers); CAFile
	// adds a CA to trust.
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
	CAFile             string `yaml:"ca_file"`
	Helo               string `yaml:"helo"`
}

// Rule routes events to channels.
type Rule struct {
	Name        string   `yaml:"name"`
	Channels    []string `yaml:"channels"`
	MinSeverity string   `yaml:"min_severity"`
	Kinds       []string `yaml:"kinds"`
	Tags        []string `yaml:"tags"`
}

// ParseConfig reads the notifications section (a YAML node; zero node =
// no notifications).
func ParseConfig(n *yaml.Node) (*Config, error) {
	var c Config
	if n == nil || n.Kind == 0 {
		return &c, nil
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	if err := enc.Encode(n); err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(&buf)
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("notifications: %w", err)
	}
	return &c, c.Validate()
}

// Merge adds b's channels and rules to a's (the workspace's to the user's
// configuration) and validates the whole: a channel name used twice is an
// error.
func Merge(a, b *Config) (*Config, error) {
	c := &Config{
		Channels: append(append([]Channel(nil), a.Channels...), b.Channels...),
		Rules:    append(append([]Rule(nil), a.Rules...), b.Rules...),
	}
	return c, c.Validate()
}

// Validate checks names, types and references.
func (c *Config) Validate() error {
	names := map[string]bool{}
	for i, ch := range c.Channels {
		if ch.Name == "" {
			return fmt.Errorf("notifications: channel %d has no name", i+1)
		}
		if names[ch.Name] {
			return fmt.Errorf("notifications: two channels named %q", ch.Name)
		}
		names[ch.Name] = true
		switch ch.Type {
		case "webhook", "slack":
			if !strings.HasPrefix(ch.URL, "http://") && !strings.HasPrefix(ch.URL, "https://") {
				return fmt.Errorf("notifications: channel %q: url must be http(s)", ch.Name)
			}
		case "email":
			if ch.SMTP.Host == "" || ch.From == "" || len(ch.To) == 0 {
				return fmt.Errorf("notifications: channel %q: email needs smtp.host, from and to", ch.Name)
			}
			switch ch.SMTP.StartTLS {
			case "", "required", "opportunistic", "off":
			default:
				return fmt.Errorf("notifications: channel %q: starttls %q (want required, opportunistic or off)", ch.Name, ch.SMTP.StartTLS)
			}
		default:
			return fmt.Errorf("notifications: channel %q: type %q (want webhook, slack or email)", ch.Name, ch.Type)
		}
	}
	for i, r := range c.Rules {
		if len(r.Channels) == 0 {
			return fmt.Errorf("notifications: rule %d (%s) names no channel", i+1, r.Name)
		}
		for _, n := range r.Channels {
			if !names[n] {
				return fmt.Errorf("notifications: rule %q: no channel %q", r.Name, n)
			}
		}
		if r.MinSeverity != "" && severityRank(r.MinSeverity) < 0 {
			return fmt.Errorf("notifications: rule %q: min_severity %q", r.Name, r.MinSeverity)
		}
	}
	return nil
}

// Event is one thing worth telling.
type Event struct {
	ID        string   `json:"id"`
	Kind      string   `json:"kind"`   // port-opened, policy/unexpected-port, finding...
	Source    string   `json:"source"` // diff, policy, finding
	Severity  string   `json:"severity"`
	Host      string   `json:"host,omitempty"`
	Hostname  string   `json:"hostname,omitempty"`
	Port      int      `json:"port,omitempty"`
	Transport string   `json:"transport,omitempty"`
	Title     string   `json:"title"`
	Before    string   `json:"before,omitempty"`
	After     string   `json:"after,omitempty"`
	Tags      []string `json:"tags,omitempty"`
	Scan      string   `json:"scan"`
	Previous  string   `json:"previous_scan,omitempty"`
	Time      string   `json:"time"`
}

// EventID makes a stable id from the parts that identify an event.
func EventID(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:10])
}

var severities = []string{"info", "low", "medium", "high", "critical"}

func severityRank(s string) int {
	for i, x := range severities {
		if strings.EqualFold(s, x) {
			return i
		}
	}
	return -1
}

// Matches tells whether a rule takes an event.
func (r Rule) Matches(e Event) bool {
	if r.MinSeverity != "" && max(severityRank(e.Severity), 0) < severityRank(r.MinSeverity) {
		return false
	}
	if len(r.Kinds) > 0 && !anyEqual(r.Kinds, e.Kind) && !anyEqual(r.Kinds, e.Source) {
		return false
	}
	if len(r.Tags) > 0 {
		ok := false
		for _, t := range e.Tags {
			if anyEqual(r.Tags, t) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func anyEqual(xs []string, s string) bool {
	for _, x := range xs {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// Notifier delivers events through the configured channels.
type Notifier struct {
	cfg     *Config
	logPath string
	log     *slog.Logger
	mu      sync.Mutex
	done    map[string]bool // channel|event id delivered
	// now and sleep are replaceable in tests.
	sleep func(context.Context, time.Duration) error
}

// New returns a notifier that records its deliveries in logPath (the
// workspace's notifications.jsonl; "" keeps no log: every Send delivers).
func New(cfg *Config, logPath string, log *slog.Logger) (*Notifier, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := &Notifier{cfg: cfg, logPath: logPath, log: log, done: map[string]bool{}, sleep: sleepCtx}
	if logPath != "" {
		if err := n.loadLog(); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// LogFile is the delivery log's name in the workspace.
const LogFile = "notifications.jsonl"

type logEntry struct {
	Time     string   `json:"time"`
	Channel  string   `json:"channel"`
	Delivery string   `json:"delivery"`
	Events   []string `json:"events"`
	OK       bool     `json:"ok"`
	Error    string   `json:"error,omitempty"`
	Attempts int      `json:"attempts"`
}

func (n *Notifier) loadLog() error {
	f, err := os.Open(n.logPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var e logEntry
		if json.Unmarshal(sc.Bytes(), &e) != nil || !e.OK {
			continue
		}
		for _, id := range e.Events {
			n.done[e.Channel+"|"+id] = true
		}
	}
	return sc.Err()
}

func (n *Notifier) appendLog(e logEntry) error {
	if n.logPath == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(n.logPath), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(n.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(e)
	_, err = f.Write(append(b, '\n'))
	if err2 := f.Sync(); err == nil {
		err = err2
	}
	if err2 := f.Close(); err == nil {
		err = err2
	}
	return err
}

// Result is what one Send did per channel.
type Result struct {
	Channel  string
	Delivery string
	Events   int
	Skipped  int // already delivered earlier
	Attempts int
	Err      error
}

// Send routes the events through the rules and delivers, per channel, the
// ones that channel has not accepted before, in one message. It returns
// one result per channel that had something to send; the error joins the
// channels' failures.
func (n *Notifier) Send(ctx context.Context, events []Event) ([]Result, error) {
	byChannel := map[string][]Event{}
	skipped := map[string]int{}
	n.mu.Lock()
	for _, ch := range n.cfg.Channels {
		seen := map[string]bool{}
		for _, e := range events {
			if seen[e.ID] {
				continue
			}
			for _, r := range n.cfg.Rules {
				if anyEqual(r.Channels, ch.Name) && r.Matches(e) {
					seen[e.ID] = true
					if n.done[ch.Name+"|"+e.ID] {
						skipped[ch.Name]++
					} else {
						byChannel[ch.Name] = append(byChannel[ch.Name], e)
					}
					break
				}
			}
		}
	}
	n.mu.Unlock()
	var results []Result
	var errs []error
	for _, ch := range n.cfg.Channels {
		evs := byChannel[ch.Name]
		if len(evs) == 0 {
			if skipped[ch.Name] > 0 {
				results = append(results, Result{Channel: ch.Name, Skipped: skipped[ch.Name]})
			}
			continue
		}
		ids := make([]string, len(evs))
		for i, e := range evs {
			ids[i] = e.ID
		}
		sorted := append([]string(nil), ids...)
		sort.Strings(sorted)
		delivery := EventID(append([]string{ch.Name}, sorted...)...)
		attempts, err := n.deliver(ctx, ch, delivery, evs)
		res := Result{Channel: ch.Name, Delivery: delivery, Events: len(evs), Skipped: skipped[ch.Name], Attempts: attempts, Err: err}
		entry := logEntry{Time: time.Now().UTC().Format(time.RFC3339), Channel: ch.Name, Delivery: delivery, Events: ids, OK: err == nil, Attempts: attempts}
		if err != nil {
			entry.Error = err.Error()
			errs = append(errs, fmt.Errorf("channel %s: %w", ch.Name, err))
			n.log.Warn("notification not delivered", "channel", ch.Name, "events", len(evs), "attempts", attempts, "err", err)
		} else {
			n.mu.Lock()
			for _, id := range ids {
				n.done[ch.Name+"|"+id] = true
			}
			n.mu.Unlock()
		}
		if lerr := n.appendLog(entry); lerr != nil {
			errs = append(errs, fmt.Errorf("delivery log: %w", lerr))
		}
		results = append(results, res)
	}
	return results, errors.Join(errs...)
}

// retryable marks errors worth another attempt.
type retryable struct {
	err   error
	after time.Duration // server's Retry-After, if any
}

func (r *retryable) Error() string { return r.err.Error() }
func (r *retryable) Unwrap() error { return r.err }

func (n *Notifier) deliver(ctx context.Context, ch Channel, delivery string, evs []Event) (int, error) {
	retries := 3
	if ch.Retries != nil {
		retries = max(*ch.Retries, 0)
	}
	backoff := ch.Backoff
	if backoff <= 0 {
		backoff = time.Second
	}
	timeout := ch.Timeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	var err error
	for attempt := 0; attempt <= retries; attempt++ {
		if attempt > 0 {
			wait := backoff << (attempt - 1)
			var r *retryable
			if errors.As(err, &r) && r.after > wait {
				wait = r.after
			}
			wait = min(wait, 5*time.Minute)
			if e := n.sleep(ctx, wait); e != nil {
				return attempt, e
			}
		}
		actx, cancel := context.WithTimeout(ctx, timeout)
		switch ch.Type {
		case "webhook":
			err = sendWebhook(actx, ch, delivery, evs)
		case "slack":
			err = sendSlack(actx, ch, delivery, evs)
		case "email":
			err = sendEmail(actx, ch, delivery, evs)
		default:
			err = fmt.Errorf("unknown channel type %q", ch.Type)
		}
		cancel()
		if err == nil {
			return attempt + 1, nil
		}
		var r *retryable
		if !errors.As(err, &r) || ctx.Err() != nil {
			return attempt + 1, err
		}
		n.log.Info("notification attempt failed, retrying", "channel", ch.Name, "attempt", attempt+1, "err", err)
	}
	return retries + 1, err
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Summary is a one-line description of a batch ("3 events: 2 port-opened, 1 ...").
func Summary(evs []Event) string {
	counts := map[string]int{}
	var kinds []string
	for _, e := range evs {
		if counts[e.Kind] == 0 {
			kinds = append(kinds, e.Kind)
		}
		counts[e.Kind]++
	}
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = strconv.Itoa(counts[k]) + " " + k
	}
	return fmt.Sprintf("%d event%s: %s", len(evs), plural(len(evs)), strings.Join(parts, ", "))
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// Line is one event in one line of text.
func (e Event) Line() string {
	where := e.Host
	if e.Hostname != "" {
		where += " (" + e.Hostname + ")"
	}
	if e.Port != 0 {
		t := e.Transport
		if t == "" {
			t = "tcp"
		}
		where = fmt.Sprintf("%s:%d/%s", e.Host, e.Port, t)
	}
	return fmt.Sprintf("[%s] %s %s: %s", e.Severity, e.Kind, where, e.Title)
}
