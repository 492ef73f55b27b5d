package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/kairos-rtb/kairos/campaigns"
	"gopkg.in/yaml.v3"
)

// flags parses a verb's flags, which may come before or after its positional
// arguments, and prints the verb's help on --help.
func (c *CLI) flags(fs *flag.FlagSet, usageLine string, args []string) ([]string, error) {
	fs.SetOutput(c.Out)
	fs.Usage = func() {
		fmt.Fprintf(c.Out, "Usage: kairosctl %s\n", usageLine)
		fs.PrintDefaults()
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, helpShown{}
			}
			return nil, usageError("%s: %v", usageLine, err)
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func (c *CLI) campaigns(args []string) error {
	if len(args) == 0 {
		return usageError("campaigns: want apply, list, get, pause, resume or delete")
	}
	verb, args := args[0], args[1:]
	fs := flag.NewFlagSet("campaigns "+verb, flag.ContinueOnError)
	switch verb {
	case "apply":
		file := fs.String("f", "", "campaign YAML file (one or many documents separated by ---), or - for stdin")
		dry := fs.Bool("dry-run", false, "show what would change without storing anything")
		if _, err := c.flags(fs, "campaigns apply -f FILE [--dry-run]", args); err != nil {
			return err
		}
		if *file == "" {
			return usageError("campaigns apply: -f FILE is required")
		}
		return c.apply(*file, *dry)
	case "list":
		if _, err := c.flags(fs, "campaigns list", args); err != nil {
			return err
		}
		return c.list()
	case "get":
		out := fs.String("o", "yaml", "output format: yaml or json")
		pos, err := c.flags(fs, "campaigns get ID [-o yaml|json]", args)
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usageError("campaigns get: want exactly one campaign ID")
		}
		return c.get(pos[0], *out)
	case "pause", "resume", "delete":
		pos, err := c.flags(fs, "campaigns "+verb+" ID", args)
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usageError("campaigns %s: want exactly one campaign ID", verb)
		}
		return c.change(verb, pos[0])
	}
	return usageError("campaigns: unknown verb %q (want apply, list, get, pause, resume or delete)", verb)
}

func (c *CLI) readInput(name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(c.In)
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return b, nil
}

type change struct {
	ID      string   `json:"id"`
	Action  string   `json:"action"`
	Version int64    `json:"version"`
	Changes []string `json:"changes"`
}

func (c *CLI) apply(file string, dry bool) error {
	data, err := c.readInput(file)
	if err != nil {
		return err
	}
	// Validate locally first: problems then name this file and its lines.
	if _, err := campaigns.Parse(file, bytes.NewReader(data)); err != nil {
		return fmt.Errorf("%s rejected, nothing was applied:\n%w", file, err)
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	path := "/v1/campaigns"
	if dry {
		path += "?dry_run=1"
	}
	body, err := cl.do("POST", path, "application/yaml", bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	var res struct {
		Changes []change `json:"changes"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		return fmt.Errorf("unexpected answer: %s", body)
	}
	for _, ch := range res.Changes {
		verb := ch.Action
		if dry {
			verb = map[string]string{"created": "would create", "updated": "would update", "unchanged": "unchanged"}[ch.Action]
		}
		if dry || ch.Action == "unchanged" {
			fmt.Fprintf(c.Out, "campaign %s: %s\n", ch.ID, verb)
		} else {
			fmt.Fprintf(c.Out, "campaign %s: %s (version %d)\n", ch.ID, verb, ch.Version)
		}
		if ch.Action == "updated" {
			for _, d := range ch.Changes {
				fmt.Fprintf(c.Out, "  %s\n", d)
			}
		}
	}
	return nil
}

func (c *CLI) list() error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	body, err := cl.do("GET", "/v1/campaigns", "", nil)
	if err != nil {
		return err
	}
	var res struct {
		Campaigns []campaigns.Campaign `json:"campaigns"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		return fmt.Errorf("unexpected answer: %w", err)
	}
	tw := tabwriter.NewWriter(c.Out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tADVERTISER\tPACING\tDAILY\tTOTAL\tBASE CPM\tMAX CPM\tFLIGHT\tVERSION")
	for _, cp := range res.Campaigns {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s %s\t%s\t%s\t%s\t%s..%s\t%d\n", cp.ID, cp.Status, cp.Advertiser, cp.Pacing,
			cp.Budget.Daily, cp.Budget.Currency, cp.Budget.Total, cp.Bid.BaseCPM, cp.Bid.MaxCPM,
			cp.Flight.Start, cp.Flight.End, cp.Version)
	}
	return tw.Flush()
}

func (c *CLI) get(id, format string) error {
	if format != "yaml" && format != "json" {
		return usageError("campaigns get: -o must be yaml or json")
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	body, err := cl.do("GET", "/v1/campaigns/"+url.PathEscape(id), "", nil)
	if err != nil {
		return err
	}
	if format == "json" {
		_, err = c.Out.Write(body)
		return err
	}
	var cp campaigns.Campaign
	if err := json.Unmarshal(body, &cp); err != nil {
		return fmt.Errorf("unexpected answer: %w", err)
	}
	out, err := yaml.Marshal(&cp)
	if err != nil {
		return err
	}
	_, err = c.Out.Write(out)
	return err
}

func (c *CLI) change(verb, id string) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	path := "/v1/campaigns/" + url.PathEscape(id)
	method := "DELETE"
	if verb != "delete" {
		method, path = "POST", path+"/"+verb
	}
	if _, err := cl.do(method, path, "", nil); err != nil {
		return fmt.Errorf("campaign %s: %w", id, err)
	}
	fmt.Fprintf(c.Out, "campaign %s: %s\n", id, map[string]string{"pause": "paused", "resume": "resumed", "delete": "deleted"}[verb])
	return nil
}

func (c *CLI) budget(args []string) error {
	if len(args) > 0 && args[0] == "restore" {
		return c.budgetRestore(args[1:])
	}
	if len(args) == 0 || args[0] != "set" {
		if len(args) > 0 && (args[0] == "--help" || args[0] == "-h") {
			fmt.Fprintln(c.Out, "Usage: kairosctl budget set ID [--daily X] [--total Y]\n       kairosctl budget restore ID [--day YYYY-MM-DD] [--spent-today X] [--spent-total Y]")
			return helpShown{}
		}
		return usageError("budget: want 'budget set ID --daily X --total Y' or 'budget restore ID'")
	}
	fs := flag.NewFlagSet("budget set", flag.ContinueOnError)
	daily := fs.String("daily", "", "daily budget in currency units, e.g. 500.00")
	total := fs.String("total", "", "total budget in currency units, e.g. 10000")
	pos, err := c.flags(fs, "budget set ID [--daily X] [--total Y]", args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("budget set: want exactly one campaign ID")
	}
	if *daily == "" && *total == "" {
		return usageError("budget set: give --daily, --total or both")
	}
	body := map[string]json.RawMessage{}
	for name, v := range map[string]string{"daily": *daily, "total": *total} {
		if v == "" {
			continue
		}
		if strings.Trim(v, "0123456789.") != "" {
			return usageError("budget set: --%s %q is not an amount such as 500.00", name, v)
		}
		body[name] = json.RawMessage(v)
	}
	b, _ := json.Marshal(body)
	cl, err := c.client()
	if err != nil {
		return err
	}
	if _, err := cl.do("PUT", "/v1/campaigns/"+url.PathEscape(pos[0])+"/budget", "application/json", bytes.NewReader(b)); err != nil {
		return fmt.Errorf("campaign %s: %w", pos[0], err)
	}
	fmt.Fprintf(c.Out, "campaign %s: budget set\n", pos[0])
	return nil
}

// budgetRestore rewrites a campaign's spend ledger after Redis lost it
// (POST /v1/pacing/<id>/restore). Figures left out come from the instance's
// last view of the ledger.
func (c *CLI) budgetRestore(args []string) error {
	fs := flag.NewFlagSet("budget restore", flag.ContinueOnError)
	day := fs.String("day", "", "campaign-local day of the figures, YYYY-MM-DD (default: the day the instance last saw)")
	today := fs.String("spent-today", "", "spend of that day in currency units, e.g. 120.50 (default: last seen, leased counted as spent)")
	total := fs.String("spent-total", "", "total spend in currency units (default: last seen, leased counted as spent)")
	pos, err := c.flags(fs, "budget restore ID [--day YYYY-MM-DD] [--spent-today X] [--spent-total Y]", args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("budget restore: want exactly one campaign ID")
	}
	body := map[string]string{}
	for name, v := range map[string]string{"day": *day, "spent_today": *today, "spent_total": *total} {
		if v == "" {
			continue
		}
		if name != "day" && strings.Trim(v, "0123456789.") != "" {
			return usageError("budget restore: --%s %q is not an amount such as 120.50", strings.ReplaceAll(name, "_", "-"), v)
		}
		body[name] = v
	}
	b, _ := json.Marshal(body)
	cl, err := c.client()
	if err != nil {
		return err
	}
	out, err := cl.do("POST", "/v1/pacing/"+url.PathEscape(pos[0])+"/restore", "application/json", bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("campaign %s: %w", pos[0], err)
	}
	var res struct {
		Figures struct {
			Day        string          `json:"day"`
			SpentToday json.RawMessage `json:"spent_today"`
			SpentTotal json.RawMessage `json:"spent_total"`
		} `json:"figures"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return fmt.Errorf("campaign %s: unexpected answer %q", pos[0], out)
	}
	fmt.Fprintf(c.Out, "campaign %s: ledger restored for %s: spent today %s, spent in total %s\n",
		pos[0], res.Figures.Day, res.Figures.SpentToday, res.Figures.SpentTotal)
	return nil
}

func (c *CLI) segments(args []string) error {
	if len(args) == 0 || args[0] != "import" {
		if len(args) > 0 && (args[0] == "--help" || args[0] == "-h") {
			fmt.Fprintln(c.Out, "Usage: kairosctl segments import FILE|-")
			return helpShown{}
		}
		return usageError("segments: want 'segments import FILE|-'")
	}
	fs := flag.NewFlagSet("segments import", flag.ContinueOnError)
	pos, err := c.flags(fs, "segments import FILE|-   (JSON lines; gzip files are sent as they are)", args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("segments import: want one FILE, or - for stdin")
	}
	var in io.Reader = c.In
	if pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			return fmt.Errorf("read %s: %w", pos[0], err)
		}
		defer f.Close()
		in = f
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	body, err := cl.do("POST", "/v1/segments/import", "application/x-ndjson", in)
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	var res struct {
		Imported int `json:"imported"`
		Rejected int `json:"rejected"`
		Errors   []struct {
			Line   int    `json:"line"`
			Reason string `json:"reason"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		return fmt.Errorf("unexpected answer: %s", body)
	}
	fmt.Fprintf(c.Out, "imported %d, rejected %d\n", res.Imported, res.Rejected)
	for _, e := range res.Errors {
		fmt.Fprintf(c.Out, "  %s:%d: %s\n", pos[0], e.Line, e.Reason)
	}
	if res.Rejected > 0 {
		return fmt.Errorf("%d line(s) of %s were rejected", res.Rejected, pos[0])
	}
	return nil
}
