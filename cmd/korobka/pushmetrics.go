package main

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/korobka/korobka/chat"
)

// pushMetrics is chat.PushMetrics as Prometheus series.
type pushMetrics struct {
	queued  *prometheus.CounterVec
	dropped prometheus.Counter
	jobs    *prometheus.CounterVec
	sent    *prometheus.CounterVec
	skipped *prometheus.CounterVec
	retried prometheus.Counter
	dead    prometheus.Counter
	removed *prometheus.CounterVec
	latency prometheus.Histogram
}

var _ chat.PushMetrics = (*pushMetrics)(nil)

func newPushMetrics(reg prometheus.Registerer) (*pushMetrics, error) {
	m := &pushMetrics{
		queued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "korobka_push_jobs_queued_total",
			Help: "Push jobs handed to the queue, by kind.",
		}, []string{"kind"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "korobka_push_jobs_dropped_total",
			Help: "Push jobs that never reached the queue (its backend stayed down); each drop is logged.",
		}),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "korobka_push_jobs_sent_total",
			Help: "Push jobs finished with at least one notification accepted, by kind.",
		}, []string{"kind"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "korobka_push_notifications_sent_total",
			Help: "Notifications APNs or FCM accepted, one per device, by platform.",
		}, []string{"platform"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "korobka_push_jobs_skipped_total",
			Help: "Push jobs finished without a push, by reason (foreground, muted, read, no_device, ...).",
		}, []string{"reason"}),
		retried: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "korobka_push_jobs_retried_total",
			Help: "Push jobs put back for a later attempt after a temporary failure.",
		}),
		dead: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "korobka_push_jobs_dead_total",
			Help: "Push jobs moved to the dead letters (out of attempts, or refused).",
		}),
		removed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "korobka_push_devices_removed_total",
			Help: "Push devices removed: gone (the service said the token is dead) or evicted (over the per-user cap).",
		}, []string{"reason"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "korobka_push_latency_seconds",
			Help:    "For jobs sent on their first attempt: from the job's due time (enqueue, or the end of its delay) to its first accepted notification.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800},
		}),
	}
	for _, c := range []prometheus.Collector{m.queued, m.dropped, m.jobs, m.sent, m.skipped, m.retried, m.dead, m.removed, m.latency} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *pushMetrics) JobsQueued(kind chat.JobKind, n int) {
	m.queued.WithLabelValues(string(kind)).Add(float64(n))
}
func (m *pushMetrics) JobsDropped(n int)         { m.dropped.Add(float64(n)) }
func (m *pushMetrics) JobSent(kind chat.JobKind) { m.jobs.WithLabelValues(string(kind)).Inc() }
func (m *pushMetrics) Sent(p chat.Platform)      { m.sent.WithLabelValues(string(p)).Inc() }
func (m *pushMetrics) JobsSkipped(reason string) { m.skipped.WithLabelValues(reason).Inc() }
func (m *pushMetrics) JobRetried()               { m.retried.Inc() }
func (m *pushMetrics) JobDead()                  { m.dead.Inc() }
func (m *pushMetrics) DevicesRemoved(reason string, n int) {
	m.removed.WithLabelValues(reason).Add(float64(n))
}
func (m *pushMetrics) Latency(d time.Duration) { m.latency.Observe(d.Seconds()) }
