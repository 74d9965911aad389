// Package cli wires portrait's commands and flags onto the pipeline's
// configs. It holds no scanning logic of its own.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/portrait-scanner/portrait/fingerprint"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// usageError marks errors caused by what the user typed (exit code 2).
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

type globals struct {
	configPath string
	verbose    int
	logLevel   string
	stdout     io.Writer
	stderr     io.Writer
	log        *slog.Logger
}

// Main runs the CLI and returns the process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	g := &globals{stdout: stdout, stderr: stderr}
	root := newRoot(g)
	root.SetArgs(expandShortFlags(args))
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	// One line: multi-line errors (YAML's) are joined.
	parts := strings.Split(strings.TrimSpace(err.Error()), "\n")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	msg := strings.Join(parts, " ")
	fmt.Fprintf(stderr, "portrait: %s\n", msg)
	var ue usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		return exitUsage
	}
	return exitFailure
}

// isCobraUsage recognises cobra's and pflag's own argument errors.
func isCobraUsage(err error) bool {
	s := err.Error()
	for _, p := range []string{"unknown flag", "unknown shorthand", "unknown command", "invalid argument", "flag needs an argument", "accepts ", "requires at least", "bad flag syntax", "required flag"} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "portrait",
		Short: "Network scanner that tells what really listens behind every open port",
		Long: `portrait scans networks and fingerprints every open port: protocol, product,
exact version, OS hints and the whole technology stack, each with a confidence
score and the evidence for it.

Results go to stdout (table on a terminal, or -o json|jsonl|csv); logs go to stderr.
Configuration: --config FILE, else ` + "`<user config dir>/portrait/config.yaml`" + ` when present;
flags override the file.`,
		Version:       fingerprint.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return g.setupLog()
		},
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&g.configPath, "config", "", "config file (YAML; default: user config dir/portrait/config.yaml when present)")
	pf.CountVarP(&g.verbose, "verbose", "v", "more detail: -v shows the technology stack, -vv debug logs")
	pf.StringVar(&g.logLevel, "log-level", "warn", "log level on stderr: debug, info, warn, error")
	root.AddCommand(newScanCmd(g), newFingerprintCmd(g))
	root.AddCommand(workspaceCommands(g)...) // workspace.go: workspace, scans, report, diff, policy, monitor
	root.AddCommand(newVulnDBCmd(g))         // vulndb.go: CVE database import, sync, KEV, EPSS
	root.AddCommand(newPersonalityCmd(g), newEmulateCmd(g))
	return root
}

func (g *globals) setupLog() error {
	var lvl slog.Level
	switch strings.ToLower(g.logLevel) {
	case "debug":
		lvl = slog.LevelDebug
	case "info":
		lvl = slog.LevelInfo
	case "warn", "warning":
		lvl = slog.LevelWarn
	case "error":
		lvl = slog.LevelError
	default:
		return usagef("invalid --log-level %q (want debug, info, warn or error)", g.logLevel)
	}
	if g.verbose >= 2 {
		lvl = slog.LevelDebug
	}
	g.log = slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: lvl}))
	return nil
}
