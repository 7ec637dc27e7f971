package loadgen

import (
	"math"
	"math/bits"
	"time"
)

// histogram is a log-linear (HDR-style) latency histogram: 32 linear
// sub-buckets per power of two, so any value is kept within 1/32 (about
// 3%) of itself in 4 KiB, whatever the number of samples. Each client owns
// its histograms and records without locks; Run merges them at the end.
type histogram struct {
	counts [histBuckets]uint32
	n      int64
	max    int64
}

const (
	histSubBits = 5
	histSub     = 1 << histSubBits
	// histMaxBits caps recorded values at 2^37 ns (137 s); anything slower
	// is clamped, since a run that slow is broken anyway.
	histMaxBits = 37
	histBuckets = (histMaxBits-histSubBits)*histSub + histSub
	histMaxVal  = 1<<histMaxBits - 1
)

func bucketOf(v int64) int {
	if v < 0 {
		v = 0
	}
	if v > histMaxVal {
		v = histMaxVal
	}
	u := uint64(v)
	if u < 2*histSub {
		return int(u)
	}
	e := bits.Len64(u) - histSubBits - 1 // u>>e is in [histSub, 2*histSub)
	return e*histSub + int(u>>e)
}

// bucketLow is the smallest value of bucket i, and bucketLow(i+1) the first
// value past it.
func bucketLow(i int) int64 {
	if i < 2*histSub {
		return int64(i)
	}
	e := i/histSub - 1
	return int64(i%histSub+histSub) << e
}

func (h *histogram) record(d int64) {
	h.counts[bucketOf(d)]++
	h.n++
	if d > h.max {
		h.max = d
	}
}

// merge adds o's samples to h; a nil o has none.
func (h *histogram) merge(o *histogram) {
	if o == nil {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the value below which a fraction q of the samples lie:
// the middle of the bucket holding the q-th sample, never above the
// exact maximum.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(h.n))) // nearest rank
	rank = min(max(rank, 1), h.n)
	var seen int64
	for i, c := range h.counts {
		seen += int64(c)
		if seen >= rank {
			lo, hi := bucketLow(i), bucketLow(i+1)
			return time.Duration(min(lo+(hi-lo-1)/2, h.max))
		}
	}
	return time.Duration(h.max)
}
