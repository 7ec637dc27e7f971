package loadgen

// dialogPlan is one direct dialog of the run: users a and b by index,
// which of them sends into it, and which opens it (POST /v1/dialogs).
type dialogPlan struct {
	a, b           int
	aSends, bSends bool
	bOpens         bool // b opens it rather than a
}

// opener and other are the users who open the dialog and whom they name.
func (d dialogPlan) opener() int {
	if d.bOpens {
		return d.b
	}
	return d.a
}

func (d dialogPlan) other() int {
	if d.bOpens {
		return d.a
	}
	return d.b
}

// planDialogs lays the active users out for cfg's shape. Pairs: users 2i
// and 2i+1 share dialog i and both send. Publishers: users 0..P-1 are the
// publishers; publisher p's k-th dialog (k < D) is with subscriber
// P + p*D + k, and only p sends into it. The subscriber opens it: the
// server limits how many dialogs one user opens (a burst of 30), which a
// publisher with more dialogs would exceed, and either member gets the
// same dialog. Idle users come after all of these (cfg.activeUsers()).
func planDialogs(cfg Config) []dialogPlan {
	if cfg.Publishers == 0 {
		plan := make([]dialogPlan, cfg.Pairs)
		for i := range plan {
			plan[i] = dialogPlan{a: 2 * i, b: 2*i + 1, aSends: true, bSends: true}
		}
		return plan
	}
	p, d := cfg.Publishers, cfg.DialogsPerUser
	plan := make([]dialogPlan, 0, p*d)
	for pub := range p {
		for k := range d {
			plan = append(plan, dialogPlan{a: pub, b: p + pub*d + k, aSends: true, bOpens: true})
		}
	}
	return plan
}

// buildClients makes one client per active user (connections come later)
// with a link per side of every planned dialog. A sender's links go into
// its round-robin in plan order; the receiving side of each learns the
// client_id prefix its peer's messages carry.
func buildClients(st *runState, cfg Config, plan []dialogPlan, dialogs []openedDialog, users []user) []*client {
	clients := make([]*client, cfg.activeUsers())
	for i := range clients {
		clients[i] = &client{st: st, wbuf: make([]byte, 0, cfg.BodySize+256)}
	}
	for j, dp := range plan {
		id := dialogs[j].id
		a := &link{owner: clients[dp.a], dialogID: id, peerID: users[dp.b].id, first: true}
		b := &link{owner: clients[dp.b], dialogID: id, peerID: users[dp.a].id}
		a.peer, b.peer = b, a
		a.seqs.startAfter(dialogs[j].lastSeq)
		b.seqs.startAfter(dialogs[j].lastSeq)
		for _, side := range []struct {
			l     *link
			sends bool
		}{{a, dp.aSends}, {b, dp.bSends}} {
			l, c := side.l, side.l.owner
			l.dhead = receiptHead("delivered", id)
			l.rhead = receiptHead("read", id)
			c.links = append(c.links, l)
			if side.sends {
				prefix := clientIDPrefix(st.run, len(c.outs))
				l.sf = newSendFrame(id, prefix, cfg.BodySize)
				l.peer.prefix = prefix
				c.outs = append(c.outs, l)
			}
		}
	}
	for _, c := range clients {
		c.indexLinks()
	}
	return clients
}
