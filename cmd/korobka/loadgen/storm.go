package loadgen

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// The reconnect storm (-storm SHARE): right after the warm-up, a share of
// the subscribers' sockets drop at once, as after a node restart, and
// reconnect together, each resuming with one sync from the last seq it saw
// in each of its dialogs, while the publishers (which stay connected) keep
// sending. The integrity checks cover the resumed sockets too: what they
// missed while away must come back through the sync, once. The run
// reports how long the storm took, how the stayed-connected sends fared
// during it (send to reply) and, from the server's /metrics, how many sync
// windows were served from memory instead of the database.

// stormState is the storm's part of runState.
type stormState struct {
	start   atomic.Int64 // ns since base; 0: no storm yet
	over    atomic.Bool  // every resumed socket has its sync reply
	pending atomic.Int64 // resumed sockets waiting for their sync reply
	end     atomic.Int64
	more    atomic.Int64 // sync replies saying more (not followed up)
}

// stormSyncID is the request id of a resuming socket's sync.
const stormSyncID = "storm-sync"

// stormVictims picks every k-th subscriber so that share of them drop.
func stormVictims(clients []*client, share float64) []*client {
	var subs []*client
	for _, c := range clients {
		if len(c.outs) == 0 {
			subs = append(subs, c)
		}
	}
	n := int(float64(len(subs))*share + 0.5)
	if n == 0 {
		return nil
	}
	out := make([]*client, 0, n)
	for i := range n {
		out = append(out, subs[i*len(subs)/n])
	}
	return out
}

// runStorm drops the victims' sockets at once and resumes each.
func runStorm(ctx context.Context, st *runState, victims []*client, d *websocket.Dialer, endpoint string, tokens map[*client]string,
	readers *sync.WaitGroup, parallel int) error {
	st.storm.pending.Store(int64(len(victims)))
	st.storm.start.Store(st.now())
	for _, c := range victims {
		c.resuming.Store(true)
		_ = c.conn.Close()
	}
	return forEach(ctx, len(victims), parallel, func(ctx context.Context, i int) error {
		c := victims[i]
		<-c.readDone // the old reader is gone: its state is ours to read
		dialogs := make(map[string]int64, len(c.links))
		for _, l := range c.links {
			if l.fromID != "" {
				dialogs[l.dialogID] = l.seqs.last()
			}
		}
		frame, _ := json.Marshal(map[string]any{"type": "sync", "id": stormSyncID, "dialogs": dialogs})
		conn, err := dial(ctx, d, endpoint, tokens[c])
		if err != nil {
			c.rd.countErr("storm_" + errorKey(err))
			c.dead.Store(true)
			st.stormReplied()
			return nil
		}
		conn.SetReadLimit(1 << 20)
		c.wmu.Lock()
		c.conn = conn
		c.rd.syncing, c.resumed = true, true
		err = conn.WriteMessage(websocket.TextMessage, frame)
		c.resuming.Store(false)
		c.wmu.Unlock()
		if err != nil {
			c.countWriteErr(err)
			st.stormReplied()
			return nil
		}
		c.startReader(readers)
		return nil
	})
}

// stormReplied counts one resumed socket done, ending the storm with the
// last.
func (st *runState) stormReplied() {
	if st.storm.pending.Add(-1) == 0 {
		st.storm.end.Store(st.now())
		st.storm.over.Store(true)
	}
}

// inStorm says whether a send stamped at stamp went out during the storm.
func (st *runState) inStorm(stamp int64) bool {
	s := st.storm.start.Load()
	return s > 0 && stamp >= s && !st.storm.over.Load()
}

// scrapeCounters reads the named counters from the server's /metrics
// (loopback only, like every request of the generator); ok false when the
// page or a counter is missing.
func scrapeCounters(ctx context.Context, hc *http.Client, base *url.URL, names ...string) (map[string]float64, bool) {
	u := base.ResolveReference(&url.URL{Path: "/metrics"})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, false
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, false
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || !want[name] {
			continue
		}
		if v, err := strconv.ParseFloat(val, 64); err == nil {
			out[name] = v
		}
	}
	return out, len(out) == len(names)
}

// StormResult is what a reconnect storm measured.
type StormResult struct {
	Share   float64       `json:"share"`   // of the subscriber sockets
	Sockets int           `json:"sockets"` // dropped and resumed
	Time    time.Duration `json:"time_ns"` // from the drop to the last sync reply
	// Replayed counts the messages the resumed sockets received while
	// their sync was running (replayed, or live meanwhile); ReplayDups
	// those that came both ways (allowed: the client dedupes by seq).
	Replayed   int64 `json:"replayed"`
	ReplayDups int64 `json:"replay_dups"`
	More       int64 `json:"more"` // sync replies with more: true (not followed up)
	// StayedAck is send to reply of the publishers' sends (every one
	// stayed connected) made during the storm.
	StayedAck Latency `json:"stayed_ack_latency"`
	// Cached and Read are the server's sync windows served from memory
	// and read from the database during the run (-1: no /metrics).
	Cached float64 `json:"sync_windows_cached"`
	Read   float64 `json:"sync_windows_read"`
}

func (s *StormResult) String() string {
	w := "sync windows from memory / database: not read (no /metrics on the public address)"
	if s.Cached >= 0 {
		w = fmt.Sprintf("sync windows from memory %.0f, from the database %.0f", s.Cached, s.Read)
	}
	return fmt.Sprintf("storm     %d sockets (%.0f%% of subscribers) dropped and resumed in %s; %d messages during their syncs (%d came live too), %d replies with more\n"+
		"          stayed-connected send->reply during the storm %s\n          %s\n",
		s.Sockets, s.Share*100, s.Time.Round(time.Millisecond), s.Replayed, s.ReplayDups, s.More, s.StayedAck, w)
}
