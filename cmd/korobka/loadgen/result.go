package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Result is what a run measured. Counts cover the whole run, warmup
// included; rates and latencies cover the measured window only (latency:
// messages sent inside it, wherever they were received). Duplicates, Gaps,
// Undelivered and Unanswered must be 0 on a healthy server.
type Result struct {
	Label             string  `json:"label"` // names the run's table row
	Pairs             int     `json:"pairs"`
	Publishers        int     `json:"publishers"`
	Subscribers       int     `json:"subscribers"`        // publishers x dialogs per user
	DialogsPerUser    int     `json:"dialogs_per_user"`   // per publisher; 1 for pairs
	Groups            int     `json:"groups"`             // group dialogs among Dialogs
	GroupSize         int     `json:"group_size"`         // members of each group, its publisher included
	DeliveredReceipts bool    `json:"delivered_receipts"` // receivers sent delivered for every message
	ReadShare         float64 `json:"read_share"`

	Idle      int           `json:"idle"`
	Rate      int           `json:"rate"` // offered msgs/s; 0 = closed loop
	Window    int           `json:"window"`
	BodySize  int           `json:"body_size"`
	Duration  time.Duration `json:"duration_ns"` // measured window actually run
	Warmup    time.Duration `json:"warmup_ns"`
	SetupTime time.Duration `json:"setup_ns"` // logins, dialogs and dials
	// SetupRetries counts setup steps (code requests, verifications,
	// dialog openings) tried again after a 5xx answer.
	SetupRetries int64 `json:"setup_retries"`

	Users       int `json:"users"`        // logged in
	Dialogs     int `json:"dialogs"`      // opened: one per pair, or dialogs-per-user per publisher
	ActiveConns int `json:"active_conns"` // WebSockets of the senders and receivers
	IdleConns   int `json:"idle_conns"`   // idle WebSockets opened (of Idle asked)
	ConnsLost   int `json:"conns_lost"`   // closed by the server or failed during the run

	Sent         int64 `json:"sent"`          // send frames written
	Replies      int64 `json:"replies"`       // reply frames (acks) received
	Delivered    int64 `json:"delivered"`     // distinct message events received (a group message counts once per receiving member)
	Receipts     int64 `json:"receipts"`      // delivered receipts written
	ReadReceipts int64 `json:"read_receipts"` // read receipts written
	Backlog      int64 `json:"backlog"`       // paced sends skipped: window full
	Undelivered  int64 `json:"undelivered"`   // acked but never received, per receiving member
	Unanswered   int64 `json:"unanswered"`    // sent but neither acked nor refused by the end
	Duplicates   int64 `json:"duplicates"`    // a client_id received twice, or a seq reused
	Gaps         int64 `json:"gaps"`          // seqs missing inside a dialog's seen range
	Stray        int64 `json:"stray"`         // message events not from this run's sender in the dialog

	Errors map[string]int64 `json:"errors"` // by error frame code, HTTP status or close

	SentPerSec      float64 `json:"sent_per_sec"`      // inside the measured window
	DeliveredPerSec float64 `json:"delivered_per_sec"` // inside the measured window

	Latency    Latency `json:"latency"`     // send to a receiver's message event
	AckLatency Latency `json:"ack_latency"` // send to the sender's reply

	Storm *StormResult `json:"storm,omitempty"` // -storm runs only

	ServerRSSBefore    int64   `json:"server_rss_before,omitempty"` // bytes, before the idle connections
	ServerRSSAfter     int64   `json:"server_rss_after,omitempty"`
	ServerRSSPerIdle   float64 `json:"server_rss_per_idle,omitempty"` // bytes per idle connection
	GeneratorHeapBytes uint64  `json:"generator_heap_bytes"`          // our own heap at the end

	// CPU used over the measured window, in cores (1.0 = one core busy the
	// whole window): the server's (read from /proc when its pid is given)
	// and this generator's, which shares the machine's Cores.
	ServerCPU    float64 `json:"server_cpu_cores,omitempty"`
	GeneratorCPU float64 `json:"generator_cpu_cores"`
	Cores        int     `json:"cores"`
}

// Latency summarises one histogram.
type Latency struct {
	Count int64         `json:"count"`
	P50   time.Duration `json:"p50_ns"`
	P90   time.Duration `json:"p90_ns"`
	P99   time.Duration `json:"p99_ns"`
	Max   time.Duration `json:"max_ns"`
}

func latencyOf(h *histogram) Latency {
	return Latency{
		Count: h.n,
		P50:   h.quantile(0.50),
		P90:   h.quantile(0.90),
		P99:   h.quantile(0.99),
		Max:   time.Duration(h.max),
	}
}

// Healthy reports whether the server kept the delivery promises: nothing
// duplicated, nothing lost, no hole in any dialog, every send answered,
// and no connection dropped during the run (a dropped one stops counting,
// so its losses would go unseen). Errors are not judged here: a refused
// send is an answer.
func (r Result) Healthy() bool {
	return r.Duplicates == 0 && r.Gaps == 0 && r.Undelivered == 0 && r.Unanswered == 0 && r.ConnsLost == 0
}

// WriteJSON prints r as one indented JSON document.
func (r Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteSummary prints r for a person at a terminal.
func (r Result) WriteSummary(w io.Writer) error {
	var b strings.Builder
	mode := fmt.Sprintf("closed loop, window %d", r.Window)
	if r.Rate > 0 {
		mode = fmt.Sprintf("%d msg/s offered, window %d", r.Rate, r.Window)
	}
	fmt.Fprintf(&b, "korobka bench: %s, %s, %s measured after %s warmup, %d-byte texts\n",
		r.Shape(), mode, r.Duration.Round(time.Millisecond), r.Warmup, r.BodySize)
	fmt.Fprintf(&b, "setup     %d users, %d dialogs, %d+%d connections in %s (%d steps retried after 5xx); %d lost during the run\n",
		r.Users, r.Dialogs, r.ActiveConns, r.IdleConns, r.SetupTime.Round(time.Millisecond), r.SetupRetries, r.ConnsLost)
	fmt.Fprintf(&b, "counts    sent %d  replies %d  delivered %d  receipts %d  read %d  backlog %d\n",
		r.Sent, r.Replies, r.Delivered, r.Receipts, r.ReadReceipts, r.Backlog)
	fmt.Fprintf(&b, "rate      %.0f msg/s delivered, %.0f msg/s sent (measured window)\n", r.DeliveredPerSec, r.SentPerSec)
	fmt.Fprintf(&b, "latency   send->message %s\n", r.Latency)
	fmt.Fprintf(&b, "          send->reply   %s\n", r.AckLatency)
	if r.Storm != nil {
		b.WriteString(r.Storm.String())
	}
	verdict := "ok"
	if !r.Healthy() {
		verdict = "BROKEN"
	}
	fmt.Fprintf(&b, "integrity duplicates %d  gaps %d  undelivered %d  unanswered %d  connections lost %d  stray %d: %s\n",
		r.Duplicates, r.Gaps, r.Undelivered, r.Unanswered, r.ConnsLost, r.Stray, verdict)
	if len(r.Errors) == 0 {
		b.WriteString("errors    none\n")
	} else {
		b.WriteString("errors   ")
		for _, k := range slices.Sorted(maps.Keys(r.Errors)) {
			fmt.Fprintf(&b, " %s %d", k, r.Errors[k])
		}
		b.WriteByte('\n')
	}
	if r.Errors["rate_limited"] > 0 {
		fmt.Fprintf(&b, "hint      the server rate-limited sends: spread the load over more senders or lower -rate (the contract promises %d frames/s per connection)\n", contractFrameRate)
	}
	if r.ServerRSSBefore > 0 {
		fmt.Fprintf(&b, "server    RSS %s -> %s over %d idle connections: %s per connection\n",
			mib(float64(r.ServerRSSBefore)), mib(float64(r.ServerRSSAfter)), r.IdleConns, kib(r.ServerRSSPerIdle))
	}
	if r.ServerCPU > 0 {
		fmt.Fprintf(&b, "cpu       server %.2f cores, generator %.2f cores, of the machine's %d (measured window)", r.ServerCPU, r.GeneratorCPU, r.Cores)
		if r.DeliveredPerSec > 0 {
			fmt.Fprintf(&b, "; server %.0f µs per delivered message", r.ServerCPUPerMessage().Seconds()*1e6)
		}
		b.WriteByte('\n')
	} else {
		fmt.Fprintf(&b, "cpu       generator %.2f cores of the machine's %d (measured window; -server-pid adds the server's)\n", r.GeneratorCPU, r.Cores)
	}
	fmt.Fprintf(&b, "generator heap %s\n\n", mib(float64(r.GeneratorHeapBytes)))
	b.WriteString(TableHeader)
	b.WriteString(r.TableRow())
	_, err := io.WriteString(w, b.String())
	return err
}

// ServerCPUPerMessage is the server's CPU time per message delivered in
// the measured window (0 when either is unknown). It depends far less than
// throughput on what else the machine runs, so it compares runs on a
// shared machine.
func (r Result) ServerCPUPerMessage() time.Duration {
	if r.ServerCPU <= 0 || r.DeliveredPerSec <= 0 {
		return 0
	}
	return time.Duration(r.ServerCPU / r.DeliveredPerSec * float64(time.Second))
}

// TableHeader heads the results table of issue 15: one row per run
// (TableRow), closed-loop throughput or the p99 at a fixed offered rate,
// so rows of several runs paste under one header.
const TableHeader = "| run | shape | closed loop, delivered msg/s | p99 send-to-receive at a fixed rate | integrity |\n" +
	"|---|---|---|---|---|\n"

// TableRow is r's row under TableHeader. A closed-loop run fills the
// throughput column (its latency is queueing, not service time); a paced
// run fills the p99 column, with the rates it actually sent and delivered
// beside it (a paced sender skips a send while its window is full, and a
// group message is delivered to each of its receivers).
func (r Result) TableRow() string {
	closed, paced := fmt.Sprintf("%s msg/s", thousands(r.DeliveredPerSec)), "—"
	if r.Rate > 0 {
		closed = "—"
		paced = fmt.Sprintf("%s at %s msg/s (%s sent/s, %s delivered/s)", round(r.Latency.P99), thousands(float64(r.Rate)),
			thousands(r.SentPerSec), thousands(r.DeliveredPerSec))
		if r.Latency.Count == 0 {
			paced = fmt.Sprintf("no samples at %s msg/s", thousands(float64(r.Rate)))
		}
	}
	verdict := "ok"
	if !r.Healthy() {
		verdict = fmt.Sprintf("BROKEN: %d duplicates, %d gaps, %d undelivered, %d unanswered", r.Duplicates, r.Gaps, r.Undelivered, r.Unanswered)
		if r.ConnsLost > 0 {
			verdict += fmt.Sprintf(", %d connections lost", r.ConnsLost)
		}
	}
	return fmt.Sprintf("| %s | %s | %s | %s | %s |\n", r.Label, r.Shape(), closed, paced, verdict)
}

// Shape describes the traffic in words: "1,000 publishers x 10 dialogs
// (10,000 subscribers), delivered + 25% read receipts, 2,000 idle".
func (r Result) Shape() string {
	var s string
	switch {
	case r.Publishers > 0 && r.Groups > 0:
		s = fmt.Sprintf("%s publishers x %d dialogs, %d of them groups of %d (%s subscribers)", thousands(float64(r.Publishers)),
			r.DialogsPerUser, r.Groups/r.Publishers, r.GroupSize, thousands(float64(r.Subscribers)))
	case r.Publishers > 0:
		s = fmt.Sprintf("%s publishers x %d dialogs (%s subscribers)", thousands(float64(r.Publishers)), r.DialogsPerUser, thousands(float64(r.Subscribers)))
	case r.Pairs > 0:
		s = fmt.Sprintf("%s pairs", thousands(float64(r.Pairs)))
	default:
		s = "no senders"
	}
	switch {
	case r.DeliveredReceipts && r.ReadShare > 0:
		s += fmt.Sprintf(", delivered + %g%% read receipts", 100*r.ReadShare)
	case r.DeliveredReceipts:
		s += ", delivered receipts"
	case r.ReadShare > 0:
		s += fmt.Sprintf(", %g%% read receipts", 100*r.ReadShare)
	}
	if r.Idle > 0 {
		s += fmt.Sprintf(", %s idle", thousands(float64(r.Idle)))
	}
	return s
}

// thousands rounds v to an integer written with comma separators.
func thousands(v float64) string {
	n := int64(math.Round(v))
	if n < 0 {
		return "-" + thousands(float64(-n))
	}
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func (l Latency) String() string {
	if l.Count == 0 {
		return "no samples"
	}
	return fmt.Sprintf("p50 %s  p90 %s  p99 %s  max %s  (n=%d)",
		round(l.P50), round(l.P90), round(l.P99), round(l.Max), l.Count)
}

// round keeps three significant digits, which is all a 3% histogram has.
func round(d time.Duration) time.Duration {
	unit := time.Duration(1)
	for v := d; v >= 1000; v /= 10 {
		unit *= 10
	}
	return d.Round(unit)
}

func mib(b float64) string { return fmt.Sprintf("%.1f MiB", b/(1<<20)) }
func kib(b float64) string { return fmt.Sprintf("%.1f KiB", b/(1<<10)) }
