package loadgen

// bitset remembers which of a sender's message numbers a receiver has seen,
// one bit per message, to spot a client_id delivered twice without a map
// entry per message.
type bitset []uint64

// add sets bit n and reports whether it was already set.
func (s *bitset) add(n uint64) bool {
	w := int(n / 64)
	if w >= len(*s) {
		*s = append(*s, make([]uint64, w+1-len(*s))...)
	}
	m := uint64(1) << (n % 64)
	had := (*s)[w]&m != 0
	(*s)[w] |= m
	return had
}

// seqSet holds the seqs one side of a dialog has seen: its own messages
// through replies and its peer's through message events. In a pair both
// sides write into the dialog, so only the union of the two must be
// contiguous; a hole in it is a gap (a publisher's side sees every seq
// through replies, its subscriber's through events). Replies and events may arrive in any
// order, so the set grows downwards as well as upwards. When the dialog's
// last seq before the run is known (after), the run's first seq must be
// after+1, so a message lost at the very start is a gap too.
type seqSet struct {
	base     int64 // seq of bit 0 of bits
	bits     bitset
	lo, hi   int64
	distinct int64
	after    int64 // the dialog's last seq before the run; valid if known
	known    bool
}

// startAfter says the dialog's last seq before the run was seq.
func (s *seqSet) startAfter(seq int64) {
	s.after, s.known = seq, true
}

// add records seq and reports whether it was seen before.
func (s *seqSet) add(seq int64) bool {
	if s.distinct == 0 {
		s.base = max(seq-seq%64-64*64, 0)
		s.lo, s.hi = seq, seq
	}
	if seq < s.base {
		// Rebase far enough down that a burst of older seqs does not
		// rebase once per message.
		nb := max(seq-seq%64-64*64, 0)
		words := int((s.base - nb) / 64)
		s.bits = append(make(bitset, words, words+len(s.bits)), s.bits...)
		s.base = nb
	}
	if s.bits.add(uint64(seq - s.base)) {
		return true
	}
	s.distinct++
	s.lo, s.hi = min(s.lo, seq), max(s.hi, seq)
	return false
}

// gaps is how many seqs between the lowest seen (or the first of the run,
// when known) and the highest seen are missing.
func (s *seqSet) gaps() int64 {
	if s.distinct == 0 {
		return 0
	}
	lo := s.lo
	if s.known {
		lo = min(lo, s.after+1)
	}
	return s.hi - lo + 1 - s.distinct
}

// last is the highest seq seen, or the dialog's last seq before the run
// when none was (0 when that is unknown): where a resuming socket syncs
// from.
func (s *seqSet) last() int64 {
	if s.distinct == 0 {
		return s.after
	}
	return s.hi
}
