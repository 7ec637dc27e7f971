// Package loadgen drives a running korobka server the way a crowd of shells
// would: it logs test users in over REST, opens direct dialogs between them,
// opens one WebSocket each and makes them talk, then reports throughput,
// latency and whether anything was duplicated, lost or skipped in any
// dialog. It also parks idle connections to price what an open socket costs
// the server. "korobka bench" is its command line.
//
// Two shapes of traffic:
//   - pairs (-pairs N): 2N users, N dialogs, both members of a dialog send
//     to each other;
//   - publishers (-publishers P -dialogs-per-user D): P publishers each own
//     D direct dialogs with D distinct subscribers (P*D subscriber sockets)
//     and send round-robin over them; subscribers only receive and send
//     receipts. This is the shape of a messenger's real load: one active
//     user, many conversations.
//
// It only ever targets the loopback interface: it runs on the same box as the
// server (sharing the clock that stamps and checks latency) and must never be
// pointed at someone else's production by a typo.
package loadgen

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"strings"
	"time"
)

// Config says how hard and how long to push. The zero value of an optional
// field means its default (see ParseFlags), so a caller fills in only what it
// cares about.
type Config struct {
	URL        string // server base URL, e.g. http://127.0.0.1:8080; loopback only
	Pairs      int    // active pairs; both users of a pair send to each other
	Publishers int    // senders of the publishers shape (set Pairs or Publishers, not both)
	// DialogsPerUser is how many direct dialogs each publisher owns, each
	// with its own subscriber; 0 means 1. Pairs always have one.
	DialogsPerUser int
	// GroupShare is the fraction (0..1) of each publisher's dialogs that
	// are groups it creates (rounded to whole dialogs); GroupSize counts a
	// group's members, the publisher included (0 means 5). The other
	// members are the publisher's own subscribers.
	GroupShare  float64
	GroupSize   int
	Idle        int           // extra connections that only listen
	Rate        int           // total msgs/s over all senders; 0 = closed loop, Window in flight per sender
	Duration    time.Duration // measured window, after Warmup
	Warmup      time.Duration // traffic before the window, not measured
	BodySize    int           // bytes of message text, timestamp included
	PhonePrefix string        // test numbers are PhonePrefix + zero-padded index
	Code        string        // the fixed code of KOROBKA_TEST_PHONES="<prefix>*:<code>"
	Delivered   bool          // receivers ack every message with a delivered frame, as a shell does
	// ReadShare is the fraction (0..1) of received messages a receiver also
	// marks read, spread evenly over its messages (0.25: every fourth).
	ReadShare float64
	// Storm is the share (0..1) of the subscribers' sockets dropped at
	// once after the warm-up and resumed with sync (storm.go); publishers
	// shape only.
	Storm     float64
	Label     string // names the run in the results table row; "" = "korobka"
	ServerPID int    // when >0, read its VmRSS around opening the idle connections
	Logins    int    // concurrent REST calls and dials during setup
	Window    int    // sends in flight per sender before it waits (closed loop) or skips (paced)
	JSON      bool   // print the Result as JSON instead of the human summary

	// Internal waits, settable by tests so they do not sleep for seconds;
	// zero means the production default.
	drainTimeout time.Duration
	rssSettle    time.Duration
}

// Defaults and bounds. The bounds keep one command from running for hours or
// opening more sockets than a test box can hold by accident.
const (
	defaultURL         = "http://127.0.0.1:8080"
	defaultPairs       = 10
	defaultDuration    = 10 * time.Second
	defaultWarmup      = 2 * time.Second
	defaultBodySize    = 100
	defaultPhonePrefix = "+7999"
	defaultLogins      = 32
	defaultWindow      = 16
	defaultGroupSize   = 5
	defaultDrain       = 5 * time.Second // the drain's quiet limit: nothing landed for this long
	defaultRSSSettle   = time.Second

	maxConns    = 200_000
	maxRunTime  = time.Hour
	maxRate     = 1_000_000
	maxBodySize = 64 << 10
	maxWindow   = 1024
	maxLogins   = 1024
	maxDrain    = 2 * time.Minute // the drain's limit in all, however steady its progress
	// maxDialogsPerUser bounds one publisher's dialogs (the server's sync
	// reads up to 500 dialogs a user).
	maxDialogsPerUser = 500

	// phoneLen is the length of a +7 E.164 number ("+79990000001"): the
	// index is zero-padded to fill it, so numbers stay valid for the
	// server's phone parser whatever the prefix's length.
	phoneLen = 12
)

// withDefaults fills zero fields with their defaults and validates the
// result, so Run and ParseFlags agree on what is allowed.
func (c Config) withDefaults() (Config, error) {
	if c.URL == "" {
		c.URL = defaultURL
	}
	if c.BodySize == 0 {
		c.BodySize = defaultBodySize
	}
	if c.PhonePrefix == "" {
		c.PhonePrefix = defaultPhonePrefix
	}
	if c.Logins == 0 {
		c.Logins = defaultLogins
	}
	if c.Window == 0 {
		c.Window = defaultWindow
	}
	if c.DialogsPerUser == 0 {
		c.DialogsPerUser = 1
	}
	if c.Label == "" {
		c.Label = "korobka"
	}
	if c.GroupSize == 0 && c.GroupShare > 0 {
		c.GroupSize = defaultGroupSize
	}
	if c.drainTimeout == 0 {
		c.drainTimeout = defaultDrain
	}
	if c.rssSettle == 0 {
		c.rssSettle = defaultRSSSettle
	}
	if _, err := checkLoopback(c.URL); err != nil {
		return c, err
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	users := c.activeUsers() + c.Idle
	switch {
	case c.Pairs < 0 || c.Publishers < 0 || c.Idle < 0:
		bad("pairs, publishers and idle must not be negative")
	case c.Pairs > 0 && c.Publishers > 0:
		bad("choose one shape: pairs or publishers, not both")
	case c.DialogsPerUser < 0 || c.DialogsPerUser > maxDialogsPerUser:
		bad("dialogs per user %d out of range 1..%d", c.DialogsPerUser, maxDialogsPerUser)
	case c.DialogsPerUser > 1 && c.Publishers == 0:
		bad("dialogs per user %d needs publishers: a pair has one dialog", c.DialogsPerUser)
	case c.Pairs == 0 && c.Publishers == 0 && c.Idle == 0:
		bad("nothing to do: set pairs, publishers or idle above 0")
	case users > maxConns:
		bad("%d connections (active %d + idle %d), over the limit of %d", users, c.activeUsers(), c.Idle, maxConns)
	}
	if c.ReadShare < 0 || c.ReadShare > 1 || c.ReadShare != c.ReadShare {
		bad("read share %v out of range 0..1", c.ReadShare)
	}
	switch {
	case c.Storm < 0 || c.Storm > 1 || c.Storm != c.Storm:
		bad("storm share %v out of range 0..1", c.Storm)
	case c.Storm > 0 && c.Publishers == 0:
		bad("a storm drops subscribers' sockets: it needs publishers")
	}
	switch {
	case c.GroupShare < 0 || c.GroupShare > 1 || c.GroupShare != c.GroupShare:
		bad("group share %v out of range 0..1", c.GroupShare)
	case c.GroupShare > 0 && c.Publishers == 0:
		bad("group share needs publishers: pairs have one direct dialog")
	case c.GroupShare > 0 && c.groupsPerPublisher() == 0:
		bad("group share %v of %d dialogs per publisher rounds to no group", c.GroupShare, c.DialogsPerUser)
	case c.GroupShare > 0 && (c.GroupSize < 2 || c.GroupSize-1 > c.DialogsPerUser):
		bad("group size %d out of range 2..%d: a group's members are its publisher and some of the publisher's %d subscribers", c.GroupSize, c.DialogsPerUser+1, c.DialogsPerUser)
	case c.GroupShare == 0 && c.GroupSize != 0:
		bad("group size needs a group share above 0")
	}
	if c.Rate < 0 || c.Rate > maxRate {
		bad("rate %d out of range 0..%d", c.Rate, maxRate)
	}
	if c.Duration <= 0 || c.Warmup < 0 || c.Duration+c.Warmup > maxRunTime {
		bad("duration must be >0 and duration+warmup at most %s (got %s + %s)", maxRunTime, c.Duration, c.Warmup)
	}
	if c.BodySize < 0 || c.BodySize > maxBodySize {
		bad("size %d out of range 1..%d", c.BodySize, maxBodySize)
	}
	if !isPhonePrefix(c.PhonePrefix) {
		bad("phone prefix %q: want + and digits, e.g. +7999", c.PhonePrefix)
	} else if width := phoneLen - len(c.PhonePrefix); width < 1 || float64(users) >= pow10(width) {
		bad("phone prefix %q leaves room for %d-digit indexes, too few for %d users", c.PhonePrefix, max(width, 0), users)
	}
	if c.Code == "" {
		bad("code is required: the fixed code of KOROBKA_TEST_PHONES=%q", c.PhonePrefix+"*:<code>")
	}
	if c.ServerPID < 0 {
		bad("server pid must not be negative")
	}
	if c.Logins < 0 || c.Logins > maxLogins {
		bad("logins %d out of range 1..%d", c.Logins, maxLogins)
	}
	if c.Window < 0 || c.Window > maxWindow {
		bad("window %d out of range 1..%d", c.Window, maxWindow)
	}
	return c, errors.Join(errs...)
}

// activeUsers is how many users send or receive messages: both members of
// every pair, or every publisher and its subscribers. Values out of range
// are clamped so validation can report them without overflowing.
func (c Config) activeUsers() int {
	if c.Publishers > 0 {
		return min(c.Publishers, maxConns) * (1 + min(max(c.DialogsPerUser, 1), maxDialogsPerUser))
	}
	return 2 * min(max(c.Pairs, 0), maxConns)
}

// subscribers is the number of receive-only users of the publishers shape.
func (c Config) subscribers() int {
	if c.Publishers == 0 {
		return 0
	}
	return c.Publishers * c.DialogsPerUser
}

// checkLoopback parses a base URL and refuses any host that is not this
// machine, so a mistyped URL cannot aim a load test at a real deployment.
func checkLoopback(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("url %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("url %q: scheme must be http or https", raw)
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return u, nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return u, nil
	}
	return nil, fmt.Errorf("url %q: host %q is not a loopback address (127.0.0.0/8, ::1, localhost); the load generator only targets this machine", raw, host)
}

func isPhonePrefix(s string) bool {
	if len(s) < 2 || s[0] != '+' {
		return false
	}
	for _, r := range s[1:] {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func pow10(n int) float64 {
	p := 1.0
	for range n {
		p *= 10
	}
	return p
}

// ParseFlags reads the "korobka bench" command line into a validated Config;
// usage and errors go to stderr the way the flag package prints them.
func ParseFlags(args []string, stderr io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("korobka bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.URL, "url", defaultURL, "server base URL (loopback only)")
	fs.IntVar(&c.Pairs, "pairs", defaultPairs, "active pairs of users sending to each other (the default shape)")
	fs.IntVar(&c.Publishers, "publishers", 0, "publishers, each sending round-robin over -dialogs-per-user direct dialogs with its own subscribers (replaces -pairs)")
	fs.IntVar(&c.DialogsPerUser, "dialogs-per-user", 1, "direct dialogs per publisher, each with a distinct subscriber")
	var subscribers int
	fs.IntVar(&subscribers, "subscribers", 0, "subscriber sockets in all: sets -dialogs-per-user to subscribers/publishers")
	fs.Float64Var(&c.GroupShare, "group-share", 0, "fraction 0..1 of each publisher's dialogs that are groups it creates (at most 30 a run: the server's budget for opening dialogs)")
	fs.IntVar(&c.GroupSize, "group-size", 0, "members of each group, the publisher included, drawn from its subscribers (default 5 with -group-share)")
	fs.Float64Var(&c.ReadShare, "read-share", 0, "fraction 0..1 of received messages that receivers also mark read")
	fs.Float64Var(&c.Storm, "storm", 0, "share 0..1 of the subscribers' sockets dropped at once after the warm-up and resumed with sync while the publishers keep sending (publishers shape)")
	fs.StringVar(&c.Label, "label", "korobka", "name of the run in the results table, e.g. \"SQLite + memory\"")
	fs.IntVar(&c.Idle, "idle", 0, "extra idle WebSocket connections")
	var idleShare float64
	fs.Float64Var(&idleShare, "idle-share", 0, "idle connections as a share 0..0.99 of all connections (instead of -idle)")
	fs.IntVar(&c.Rate, "rate", 0, "total messages/s over all senders; 0 = as fast as the window allows")
	fs.DurationVar(&c.Duration, "duration", defaultDuration, "measured window")
	fs.DurationVar(&c.Warmup, "warmup", defaultWarmup, "traffic before the measured window")
	fs.IntVar(&c.BodySize, "size", defaultBodySize, "bytes of message text")
	fs.StringVar(&c.PhonePrefix, "phone-prefix", defaultPhonePrefix, `test number prefix; start the server with KOROBKA_TEST_PHONES="<prefix>*:<code>" KOROBKA_LOOPBACK_UNLIMITED=1`)
	fs.StringVar(&c.Code, "code", "", "the fixed login code of the test numbers (required)")
	fs.BoolVar(&c.Delivered, "delivered", false, "receivers send a delivered receipt for every message")
	fs.IntVar(&c.ServerPID, "server-pid", 0, "server process id: report its RSS per idle connection")
	fs.BoolVar(&c.JSON, "json", false, "print the result as JSON")
	fs.IntVar(&c.Logins, "logins", defaultLogins, "concurrent logins, dialog creations and dials during setup")
	fs.IntVar(&c.Window, "window", defaultWindow, "sends in flight per sender")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		err := fmt.Errorf("unexpected arguments: %q", fs.Args())
		fmt.Fprintln(stderr, "korobka bench:", err)
		return Config{}, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	fail := func(err error) (Config, error) {
		fmt.Fprintln(stderr, "korobka bench:", err)
		return Config{}, err
	}
	// Explicit zeros for fields whose zero means "default" in Run would be
	// silently replaced; reject them here where the user typed them.
	if c.Logins == 0 || c.Window == 0 || c.BodySize == 0 || c.DialogsPerUser == 0 {
		return fail(errors.New("logins, window, size and dialogs-per-user must be at least 1"))
	}
	if (set["publishers"] || set["subscribers"]) && !set["pairs"] {
		c.Pairs = 0 // the publishers shape replaces the default pairs
	}
	if set["idle-share"] {
		switch {
		case set["idle"]:
			return fail(errors.New("set -idle or -idle-share, not both"))
		case !(idleShare >= 0 && idleShare <= 0.99):
			return fail(fmt.Errorf("-idle-share %v out of range 0..0.99", idleShare))
		}
	}
	if set["subscribers"] {
		switch {
		case c.Publishers <= 0:
			return fail(errors.New("-subscribers needs -publishers"))
		case subscribers <= 0 || subscribers%c.Publishers != 0:
			return fail(fmt.Errorf("-subscribers %d must be a positive multiple of -publishers %d (each publisher owns the same number of dialogs)", subscribers, c.Publishers))
		case set["dialogs-per-user"] && c.DialogsPerUser != subscribers/c.Publishers:
			return fail(fmt.Errorf("-subscribers %d and -dialogs-per-user %d disagree: publishers x dialogs per user = subscribers", subscribers, c.DialogsPerUser))
		}
		c.DialogsPerUser = subscribers / c.Publishers
	}
	if idleShare > 0 {
		// idle / (active + idle) = share, rounded to a whole socket.
		active := float64(c.activeUsers())
		c.Idle = int(math.Round(active * idleShare / (1 - idleShare)))
	}
	c, err := c.withDefaults()
	if err != nil {
		return fail(err)
	}
	return c, nil
}
