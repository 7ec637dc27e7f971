package loadgen

import (
	"testing"
	"time"
)

func TestQuantile(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name   string
		values []time.Duration
		q      float64
		want   time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one value", []time.Duration{7 * ms}, 0.99, 7 * ms},
		{"small exact values", []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.5, 5},
		{"p90 of 1..10", []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.9, 9},
		{"p50 of 1..100 ms", seq(1, 100, ms), 0.5, 50 * ms},
		{"p90 of 1..100 ms", seq(1, 100, ms), 0.9, 90 * ms},
		{"p99 of 1..100 ms", seq(1, 100, ms), 0.99, 99 * ms},
		{"p100 is the max", seq(1, 100, ms), 1, 100 * ms},
		{"p0 is the min", seq(1, 100, ms), 0, 1 * ms},
		{"tail outlier", append(seq(1, 99, time.Microsecond), 3*time.Second), 0.99, 99 * time.Microsecond},
		{"clamped beyond range", []time.Duration{time.Hour}, 0.5, time.Duration(histMaxVal)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h histogram
			for _, v := range tt.values {
				h.record(int64(min(v, time.Duration(histMaxVal))))
			}
			got := h.quantile(tt.q)
			if !within(got, tt.want, 1.0/histSub) {
				t.Errorf("got %v, want %v within %.1f%%", got, tt.want, 100.0/histSub)
			}
		})
	}
}

func TestBuckets(t *testing.T) {
	prev := -1
	for v := int64(0); v < 1<<20; v += 1 + v/100 {
		b := bucketOf(v)
		if b < prev {
			t.Fatalf("bucketOf(%d) = %d, below the previous %d", v, b, prev)
		}
		if lo, hi := bucketLow(b), bucketLow(b+1); v < lo || v >= hi {
			t.Fatalf("value %d in bucket %d = [%d, %d)", v, b, lo, hi)
		}
		prev = b
	}
	if b := bucketOf(histMaxVal); b != histBuckets-1 {
		t.Errorf("bucketOf(max) = %d, want the last bucket %d", b, histBuckets-1)
	}
}

func TestMerge(t *testing.T) {
	var a, b histogram
	for i := range 50 {
		a.record(int64(i+1) * int64(time.Millisecond))
		b.record(int64(i+51) * int64(time.Millisecond))
	}
	a.merge(&b)
	if a.n != 100 || a.max != int64(100*time.Millisecond) {
		t.Errorf("got n %d, max %d; want 100, 100ms", a.n, a.max)
	}
	if got := a.quantile(0.5); !within(got, 50*time.Millisecond, 1.0/histSub) {
		t.Errorf("merged p50: got %v, want 50ms", got)
	}
}

func seq(from, to int, unit time.Duration) []time.Duration {
	var s []time.Duration
	for i := from; i <= to; i++ {
		s = append(s, time.Duration(i)*unit)
	}
	return s
}

func within(got, want time.Duration, rel float64) bool {
	d := float64(got - want)
	return d <= rel*float64(want) && -d <= rel*float64(want)
}
