package loadgen

import "math"

// dialogPlan is one dialog of the run: its members by user index, which of
// them send into it, and which member opens it (POST /v1/dialogs). At most
// one member sends in a group, and a member receives from at most one
// sender in any dialog, which is all the shapes need.
type dialogPlan struct {
	members []int
	sends   []bool // by position in members
	opener  int    // position in members of who opens it
	group   bool
}

// planDialogs lays the active users out for cfg's shape. Pairs: users 2i
// and 2i+1 share direct dialog i and both send. Publishers: users 0..P-1
// are the publishers and publisher p's subscribers are P + p*D + k for
// k < D. Of p's D dialogs the first D-g are direct, with subscribers
// 0..D-g-1, and the last g (cfg.groupsPerPublisher) are groups: group j
// holds p and GroupSize-1 of p's subscribers from D-g+j on, wrapping
// round. Only p sends into them. A subscriber opens its direct dialog
// (the server limits how many dialogs one user opens, a burst of 30,
// which a publisher with more dialogs would exceed; either member gets
// the same dialog); p creates its groups. Idle users come after all of
// these (cfg.activeUsers()).
func planDialogs(cfg Config) []dialogPlan {
	if cfg.Publishers == 0 {
		plan := make([]dialogPlan, cfg.Pairs)
		for i := range plan {
			plan[i] = dialogPlan{members: []int{2 * i, 2*i + 1}, sends: []bool{true, true}}
		}
		return plan
	}
	p, d, g := cfg.Publishers, cfg.DialogsPerUser, cfg.groupsPerPublisher()
	plan := make([]dialogPlan, 0, p*d)
	for pub := range p {
		sub := func(k int) int { return p + pub*d + k%d }
		for k := range d - g {
			plan = append(plan, dialogPlan{members: []int{pub, sub(k)}, sends: []bool{true, false}, opener: 1})
		}
		for j := range g {
			dp := dialogPlan{members: []int{pub}, sends: []bool{true}, group: true}
			for i := range cfg.GroupSize - 1 {
				dp.members = append(dp.members, sub(d-g+j+i))
				dp.sends = append(dp.sends, false)
			}
			plan = append(plan, dp)
		}
	}
	return plan
}

// goldenRatio's fractional part spreads successive multiples evenly over
// [0, 1).
const goldenRatio = 1.6180339887498949

// groupsPerPublisher is how many of a publisher's dialogs are groups.
func (c Config) groupsPerPublisher() int {
	if c.Publishers == 0 || c.GroupShare <= 0 {
		return 0
	}
	return int(math.Round(c.GroupShare * float64(c.DialogsPerUser)))
}

// buildClients makes one client per active user (connections come later)
// with a link per side of every planned dialog. A sender's links go into
// its round-robin in plan order; the receiving sides of each learn the
// client_id prefix its messages carry.
func buildClients(st *runState, cfg Config, plan []dialogPlan, dialogs []openedDialog, users []user) []*client {
	clients := make([]*client, cfg.activeUsers())
	for i := range clients {
		clients[i] = &client{st: st, wbuf: make([]byte, 0, cfg.BodySize+256)}
	}
	var nSides int
	for j, dp := range plan {
		id := dialogs[j].id
		sides := make([]*link, len(dp.members))
		for m, u := range dp.members {
			l := &link{owner: clients[u], dialogID: id, sides: sides, first: m == 0,
				dhead: receiptHead("delivered", id), rhead: receiptHead("read", id)}
			l.seqs.startAfter(dialogs[j].lastSeq)
			// Start each side's read accumulator at its own phase, spread
			// evenly over [0, 1) by the golden ratio: a dialog that gets
			// fewer than 1/ReadShare messages in a run still marks its
			// share read, over all dialogs.
			l.readAcc = math.Mod(float64(nSides)*goldenRatio, 1)
			nSides++
			sides[m] = l
			clients[u].links = append(clients[u].links, l)
		}
		for m, u := range dp.members {
			if !dp.sends[m] {
				continue
			}
			l, c := sides[m], clients[u]
			prefix := clientIDPrefix(st.run, len(c.outs))
			l.sf = newSendFrame(id, prefix, cfg.BodySize)
			c.outs = append(c.outs, l)
			for r, other := range sides {
				if r != m {
					l.to = append(l.to, other)
					other.fromID, other.prefix = users[u].id, prefix
				}
			}
		}
	}
	for _, c := range clients {
		c.indexLinks()
	}
	return clients
}
