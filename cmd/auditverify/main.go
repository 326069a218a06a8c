// Command auditverify checks audit files written by audit.FileSink: each
// line is a JSON event with an id and, for files written WithHashChain,
// each line's prevhash is the hash of the line before it, across the
// rotated segments given in order.
//
// Usage:
//
//	auditverify audit-*.jsonl audit.jsonl
//
// The shell sorts rotated segments by the time in their names; list the
// active file last. auditverify prints what it read, or the first broken
// link, and exits with status 1 on a break, 2 when it cannot read a file.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/paved-go/paved/audit"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("auditverify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: auditverify file... (rotated segments oldest first, the active file last)")
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	res, err := audit.Verify(fs.Args()...)
	if ce, ok := errors.AsType[*audit.ChainError](err); ok {
		fmt.Fprintf(stdout, "BROKEN %s:%d", ce.File, ce.Line)
		if ce.EventID != "" {
			fmt.Fprintf(stdout, " event %s", ce.EventID)
		}
		fmt.Fprintf(stdout, ": %s\n", ce.Reason)
		fmt.Fprintf(stdout, "%d lines verified before the break\n", res.Lines)
		return 1
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	chain := "no hash chain: checked that every line is a JSON event"
	if res.Chained {
		chain = "hash chain intact"
		if res.FromGenesis {
			chain += " from genesis"
		} else {
			chain += " (starts after earlier segments not given)"
		}
	}
	fmt.Fprintf(stdout, "OK %d files, %d events, %d lines; %s\n", res.Files, res.Events, res.Lines, chain)
	if res.Lines > 0 {
		fmt.Fprintf(stdout, "last line: event %s, hash %s\n", res.LastID, res.LastHash)
	}
	if res.Truncated {
		fmt.Fprintln(stdout, "the last file ends in a torn line (a write cut by a crash), not counted")
	}
	return 0
}
