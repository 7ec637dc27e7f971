package sqlstore

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
)

// contenders is how many callers race in the contention tests: the load
// generator's default of concurrent logins, at which MariaDB used to answer
// `put otp` and `create group` with Error 1213 (a 500).
const contenders = 32

// race runs fn(worker, round) on contenders goroutines for rounds rounds
// each, all starting together, and fails on the first error of each.
func race(t *testing.T, rounds int, fn func(w, r int) error) {
	t.Helper()
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, contenders)
	for w := range contenders {
		wg.Go(func() {
			<-start
			for r := range rounds {
				if err := fn(w, r); err != nil {
					errs <- fmt.Errorf("worker %d round %d: %w", w, r, err)
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// retryCounter is a slog handler that counts write's retries.
type retryCounter struct{ n *atomic.Int64 }

func (h retryCounter) Enabled(context.Context, slog.Level) bool { return true }
func (h retryCounter) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "retrying") {
		h.n.Add(1)
	}
	return nil
}
func (h retryCounter) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h retryCounter) WithGroup(string) slog.Handler      { return h }

// openCounting opens a store whose retried transactions are counted.
func openCounting(t *testing.T, d Dialect, dsn string) (*Store, *atomic.Int64) {
	t.Helper()
	n := new(atomic.Int64)
	s, err := Open(t.Context(), d, dsn, slog.New(retryCounter{n}))
	if err != nil {
		t.Fatalf("Open %s: %v", d, err)
	}
	t.Cleanup(func() { s.Close() })
	return s, n
}

// TestConcurrentLoginCodes stores, tries and deletes the codes of many new
// numbers at once, as 32 concurrent logins do. Every call must succeed: on
// MariaDB the old delete-then-insert took gap locks on the absent phones
// and the inserts deadlocked on each other's gaps, beyond write's retries.
func TestConcurrentLoginCodes(t *testing.T) {
	for _, d := range dialects() {
		t.Run(string(d.name), func(t *testing.T) {
			s, retries := openCounting(t, d.name, d.freshDB(t))
			defer func() { t.Logf("%d transactions retried", retries.Load()) }()
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			now := time.Now().UTC()
			race(t, 8, func(w, r int) error {
				phone := fmt.Sprintf("+7999555%02d%02d", w, r)
				otp := chat.OTP{Phone: phone, Hash: []byte("hash"), Salt: []byte("salt"), CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
				if err := s.PutOTP(ctx, otp); err != nil {
					return err
				}
				// A second request for the same number replaces the code.
				otp.Hash = []byte("hash2")
				if err := s.PutOTP(ctx, otp); err != nil {
					return err
				}
				got, err := s.TakeOTPAttempt(ctx, phone)
				if err != nil {
					return err
				}
				if string(got.Hash) != "hash2" || got.Attempts != 1 {
					return fmt.Errorf("code of %s: hash %q attempts %d; want the replacing code at 1 attempt", phone, got.Hash, got.Attempts)
				}
				return s.DeleteOTP(ctx, phone)
			})
		})
	}
}

// TestConcurrentCreateGroup creates groups from many callers at once, as
// the load generator's setup does. Every call must succeed with its
// members and system messages: on MariaDB the locking read of a new
// group's (absent) members took a gap lock at the end of members, and
// concurrent creations deadlocked inserting their members into it.
func TestConcurrentCreateGroup(t *testing.T) {
	for _, d := range dialects() {
		t.Run(string(d.name), func(t *testing.T) {
			s, retries := openCounting(t, d.name, d.freshDB(t))
			defer func() { t.Logf("%d transactions retried", retries.Load()) }()
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			now := time.Now().UTC()
			users := make([]chat.User, 2*contenders)
			for i := range users {
				u, _, err := s.UpsertUser(ctx, fmt.Sprintf("+7999556%04d", i), now)
				if err != nil {
					t.Fatal(err)
				}
				users[i] = u
			}
			race(t, 4, func(w, r int) error {
				owner := users[w]
				others := []int64{users[contenders+w].ID, users[(w+1)%contenders].ID}
				e, err := s.CreateGroup(ctx, owner.ID, now, func(e *chat.GroupEdit) error {
					e.Dialog.Title, e.Dialog.HistoryVisible = "G", true
					e.Add = append([]int64{owner.ID}, others...)
					e.Roles = map[int64]chat.GroupRole{owner.ID: chat.GroupOwner}
					e.Events = []chat.SystemEvent{{Type: chat.SystemCreated, Actor: chat.FormatID(owner.ID), Title: "G"},
						{Type: chat.SystemMemberAdded, Actor: chat.FormatID(owner.ID)}}
					return nil
				})
				if err != nil {
					return err
				}
				if len(e.Members) != 3 || len(e.Messages) != 2 || e.Dialog.LastSeq != 2 {
					return fmt.Errorf("group %d: %d members, %d messages, last_seq %d; want 3, 2, 2", e.Dialog.ID, len(e.Members), len(e.Messages), e.Dialog.LastSeq)
				}
				return nil
			})
		})
	}
}
