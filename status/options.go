package status

import (
	"errors"
	"fmt"
	"time"

	"github.com/paved-go/paved/faults"
)

// Option configures a Handler (New). Invalid options make New return an
// error; they never panic later.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// Defaults of the history the page charts: one sample a second, five
// minutes of them.
const (
	DefaultInterval = time.Second
	DefaultSamples  = 300
)

type config struct {
	interval time.Duration
	samples  int
	faults   *faults.Injector
	title    string
	err      error
}

func newConfig(opts []Option) (config, error) {
	c := config{interval: DefaultInterval, samples: DefaultSamples, title: "paved status"}
	for i, o := range opts {
		if o == nil {
			c.fail(fmt.Errorf("status: option %d is nil", i))
			continue
		}
		o.apply(&c)
	}
	return c, c.err
}

func (c *config) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

// WithHistory sets how often the handler samples every component while
// someone watches (interval, at least 10ms; default 1s) and how many
// samples it keeps for the charts (n, 1 to 100,000; default 300, five
// minutes). Samples are taken only while a page streams events or
// status.json is read, never in the background.
func WithHistory(interval time.Duration, n int) Option {
	return optionFunc(func(c *config) {
		if interval < 10*time.Millisecond {
			c.fail(fmt.Errorf("status: WithHistory: interval %v is below 10ms", interval))
			return
		}
		if n < 1 || n > 100_000 {
			c.fail(fmt.Errorf("status: WithHistory: %d samples, want 1 to 100000", n))
			return
		}
		c.interval, c.samples = interval, n
	})
}

// WithFaults mounts inj's control endpoint at …/faults (GET the rules,
// POST new ones as application/json, DELETE to clear them) and shows a
// faults panel on the page. Without it …/faults is 404: faults can be
// switched on at run time only where the user mounted this control.
func WithFaults(inj *faults.Injector) Option {
	return optionFunc(func(c *config) {
		if inj == nil {
			c.fail(errors.New("status: WithFaults: nil injector"))
			return
		}
		c.faults = inj
	})
}

// WithTitle sets the page's title and heading (default "paved status"),
// such as the service's name.
func WithTitle(title string) Option {
	return optionFunc(func(c *config) {
		if title == "" {
			c.fail(errors.New("status: WithTitle: empty title"))
			return
		}
		c.title = title
	})
}
