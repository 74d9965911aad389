// Command portrait is a network scanner whose heart is service fingerprinting.
package main

import (
	"os"

	"github.com/portrait-scanner/portrait/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr)) }
