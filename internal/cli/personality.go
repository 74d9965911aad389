package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/portrait-scanner/portrait/emulate"
	"github.com/portrait-scanner/portrait/emulate/personalities"
	"github.com/portrait-scanner/portrait/fingerprint"
	"github.com/portrait-scanner/portrait/fingerprint/catalogs"
	"github.com/portrait-scanner/portrait/protocol/all"
)

// newPersonalityCmd is `portrait personality record|list|validate`.
func newPersonalityCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "personality",
		Short: "Record a server's personality (how it answers each class of command) for emulation",
		Long: `A personality is a YAML file (docs/personality.md) holding how one real server greets,
answers each class of command in each session state (including illegal syntax and the
probes scanners send), and what its TLS certificate looks like. ` + "`portrait emulate`" + ` serves it.`,
	}
	cmd.AddCommand(newPersonalityRecordCmd(g), newPersonalityListCmd(g), newPersonalityValidateCmd(g))
	return cmd
}

func newPersonalityRecordCmd(g *globals) *cobra.Command {
	var o emulate.RecordOptions
	var out string
	var noIdentify bool
	cmd := &cobra.Command{
		Use:   "record TARGET:PORT --protocol smtp|ftp|pop3|imap|ssh|http -o FILE",
		Short: "Run the protocol's test set against a server and write its personality",
		Long: `Record connects to TARGET:PORT many times and sends the protocol's test set: every
command class with representative arguments (valid, invalid, missing), in every session
state it can reach without credentials, then again inside TLS when the server offers
STARTTLS, plus the requests nmap and portrait send. Dynamic parts of the answers (dates,
echoed input, host names, addresses, session counters, random tokens) are replaced by
placeholders. The recording takes one to a few minutes; no mail is delivered and no login
is attempted with real credentials.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usagef("-o FILE is required")
			}
			if _, _, err := net.SplitHostPort(args[0]); err != nil {
				return usagef("target %q: want HOST:PORT", args[0])
			}
			known := false
			for _, p := range emulate.Protocols {
				known = known || p == o.Protocol
			}
			if !known {
				return usagef("--protocol %q: want one of %s", o.Protocol, strings.Join(emulate.Protocols, ", "))
			}
			o.Target = args[0]
			o.By = "portrait " + fingerprint.Version
			o.Progress = func(format string, a ...any) { g.log.Info(fmt.Sprintf(format, a...)) }
			p, err := emulate.Record(cmd.Context(), o)
			if err != nil {
				return err
			}
			if !noIdentify {
				p.Recorded.Identity = identify(cmd.Context(), o.Target)
			}
			b, err := p.Marshal()
			if err != nil {
				return err
			}
			if out == "-" {
				_, err = g.stdout.Write(b)
				return err
			}
			if err := os.WriteFile(out, b, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(g.stderr, "wrote %s: %d replies\n", out, len(p.Replies))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Protocol, "protocol", "", "protocol: "+strings.Join(emulate.Protocols, ", "))
	f.StringVarP(&out, "output", "o", "", "personality file to write (- for stdout)")
	f.StringVar(&o.Name, "name", "", "personality name (default: protocol-host-port)")
	f.StringArrayVar(&o.Hostnames, "hostname", nil, "a name of the server, replaced by ${hostname} (repeatable; some are found by themselves)")
	f.StringArrayVar(&o.Users, "user", nil, "a local user that exists on the server (SMTP recipient classes; repeatable)")
	f.DurationVar(&o.Timeout, "timeout", 3*time.Second, "wait for one reply")
	f.DurationVar(&o.LongWait, "long-wait", 10*time.Second, "wait for replies servers delay on purpose (failed logins)")
	f.StringVar(&o.Source, "source", "", "local address to connect from (the personality is the server as seen from there)")
	f.BoolVar(&noIdentify, "no-identify", false, "do not fingerprint the original to note its identity in the file")
	return cmd
}

func newPersonalityListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the shipped personalities (usable as --personality NAME)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, n := range personalities.Names() {
				b, _ := personalities.Get(n)
				p, err := emulate.Parse(b)
				if err != nil {
					fmt.Fprintf(g.stdout, "%-14s invalid: %v\n", n, err)
					continue
				}
				fmt.Fprintf(g.stdout, "%-14s %-5s %4d replies  recorded from %s  %s\n", n, p.Protocol, len(p.Replies), p.Recorded.From, p.Recorded.Identity)
			}
			return nil
		},
	}
}

func newPersonalityValidateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check personality files",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var errs []error
			for _, a := range args {
				p, err := loadPersonality(a)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintf(g.stdout, "%s: ok (%s, %d replies)\n", a, p.Protocol, len(p.Replies))
			}
			if len(errs) > 0 {
				return usageError{errors.Join(errs...)}
			}
			return nil
		},
	}
}

// identify fingerprints the original, for recorded.identity.
func identify(ctx context.Context, target string) string {
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		return ""
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return ""
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		return ""
	}
	cat, _, err := catalogs.LoadCatalogs(ctx, catalogs.Options{})
	if err != nil {
		return ""
	}
	probes, err := fingerprint.BuiltinProbes()
	if err != nil {
		return ""
	}
	svc := fingerprint.New(fingerprint.Config{}, all.Modules(), cat, probes, nil).Identify(ctx, fingerprint.Target{Addr: addr, Port: n})
	return emulate.IdentityOf(svc)
}

// loadPersonality reads a file, or a shipped personality by name.
func loadPersonality(arg string) (*emulate.Personality, error) {
	if _, err := os.Stat(arg); err != nil && !strings.ContainsAny(arg, "/.") {
		if b, ok := personalities.Get(arg); ok {
			return emulate.Parse(b)
		}
		return nil, fmt.Errorf("personality %q: no such file, and no shipped personality of that name (portrait personality list)", arg)
	}
	return emulate.Load(arg)
}

// newEmulateCmd is `portrait emulate`.
func newEmulateCmd(g *globals) *cobra.Command {
	var (
		pers, listen, logPath string
		vars, users           []string
		srv                   emulate.Server
	)
	cmd := &cobra.Command{
		Use:   "emulate --personality FILE|NAME --listen 127.0.0.1:PORT [--log FILE]",
		Short: "Serve a recorded personality: a low-interaction honeypot",
		Long: `Emulate answers every connection from the personality: it classifies each command as the
recorder did, keeps the session's state (HELO before MAIL, USER before PASS, STARTTLS with
a look-alike certificate...), answers with the recorded reply, placeholders filled (the
client's address, the current date, the echoed recipient), and writes every interaction to
the log as JSON lines. Nobody ever logs in. Sessions, lines and bytes are bounded.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if pers == "" || listen == "" {
				return usagef("--personality and --listen are required")
			}
			p, err := loadPersonality(pers)
			if err != nil {
				return usageError{err}
			}
			srv.P = p
			srv.Users = users
			srv.Vars = map[string]string{}
			for _, v := range vars {
				k, x, ok := strings.Cut(v, "=")
				if !ok || k == "" {
					return usagef("invalid --var %q (want name=value)", v)
				}
				srv.Vars[k] = x
			}
			if logPath != "" {
				w := g.stdout
				if logPath != "-" {
					f, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
					if err != nil {
						return err
					}
					defer f.Close()
					w = f
				}
				srv.Log = emulate.NewLogger(w)
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stderr, "emulating %s (%s) on %s\n", p.Name, p.Protocol, ln.Addr())
			err = srv.Serve(cmd.Context(), ln)
			if lerr := srv.Log.Err(); lerr != nil {
				return fmt.Errorf("log: %w", lerr)
			}
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&pers, "personality", "", "personality file, or the name of a shipped one (portrait personality list)")
	f.StringVar(&listen, "listen", "", "address to listen on, e.g. 127.0.0.1:2525")
	f.StringVar(&logPath, "log", "", "interaction log, JSON lines, appended (- for stdout)")
	f.StringArrayVar(&vars, "var", nil, "override a placeholder value, e.g. --var hostname=mail.example.com (repeatable)")
	f.StringArrayVar(&users, "user", nil, "a local user SMTP recipients are accepted for (default postmaster, root; repeatable)")
	f.IntVar(&srv.MaxSessions, "max-sessions", 256, "sessions served at once; more are refused")
	f.DurationVar(&srv.IdleTimeout, "idle-timeout", time.Minute, "close a session silent this long")
	f.DurationVar(&srv.SessionTimeout, "session-timeout", 10*time.Minute, "close a session this old")
	f.IntVar(&srv.MaxLine, "max-line", 0, "longest client line (default: the personality's, else 4096)")
	f.BoolVar(&srv.NoDelay, "no-delay", false, "answer at once instead of with the recorded delays")
	return cmd
}
