// Command kairosctl is the operator CLI for Kairos: it manages campaigns and
// budgets, imports profiles and reads reports through the admin API
// (KAIROS_ADMIN_URL, KAIROS_ADMIN_TOKEN).
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	cli := &CLI{Out: os.Stdout, Err: os.Stderr, In: os.Stdin, Getenv: os.Getenv}
	os.Exit(cli.Run(os.Args[1:]))
}

const usage = `kairosctl — operate Kairos through its admin API.

Usage:
  kairosctl campaigns apply -f FILE [--dry-run]   create or update campaigns from YAML
  kairosctl campaigns list                         table of campaigns
  kairosctl campaigns get ID [-o yaml|json]        one campaign
  kairosctl campaigns pause|resume|delete ID       change one campaign
  kairosctl budget set ID [--daily X] [--total Y]  set a campaign's budget (currency units)
  kairosctl segments import FILE|-                 import profiles (JSON lines, gzip ok)
  kairosctl report winrate [--by campaign,phase] [--since 24h | --from T --to T] [--format table|csv|json]
  kairosctl report landscape|nobids ...            win rate by bid price; no-bid and loss reasons
  kairosctl report variants|lift --campaign ID     creative variants learnt; holdout lift

Environment:
  KAIROS_ADMIN_URL    admin API base URL (default http://127.0.0.1:8081)
  KAIROS_ADMIN_TOKEN  admin API token (printed by the demo server)

Every verb takes --help.
`

// CLI runs kairosctl commands; its streams and environment are injectable for
// tests.
type CLI struct {
	Out, Err io.Writer
	In       io.Reader
	Getenv   func(string) string
}

// Run executes args and returns the process exit status.
func (c *CLI) Run(args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(c.Out, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	var err error
	switch args[0] {
	case "campaigns":
		err = c.campaigns(args[1:])
	case "budget":
		err = c.budget(args[1:])
	case "segments":
		err = c.segments(args[1:])
	case "report":
		err = c.report(args[1:])
	default:
		err = usageError("unknown command %q (want campaigns, budget, segments or report)", args[0])
	}
	switch e := err.(type) {
	case nil:
		return 0
	case helpShown:
		return 0
	case *usageErr:
		fmt.Fprintln(c.Err, "kairosctl:", e.msg)
		fmt.Fprintln(c.Err, "run 'kairosctl --help' for usage")
		return 2
	default:
		fmt.Fprintln(c.Err, "kairosctl:", err)
		return 1
	}
}

type usageErr struct{ msg string }

func (e *usageErr) Error() string { return e.msg }

func usageError(format string, args ...any) error { return &usageErr{fmt.Sprintf(format, args...)} }

// helpShown ends a command after printing its help.
type helpShown struct{}

func (helpShown) Error() string { return "help shown" }
