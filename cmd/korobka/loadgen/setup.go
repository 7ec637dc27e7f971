package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// setupTimeout bounds each REST call and WebSocket handshake, so a stuck
// server fails the run instead of hanging it.
const setupTimeout = 10 * time.Second

// user is a logged-in test user.
type user struct {
	id, token string
}

// api is the REST side of the shell contract the generator needs.
type api struct {
	base    *url.URL
	hc      *http.Client
	retried atomic.Int64 // setup steps tried again after a transient answer
}

// setupTries bounds how often a setup step (requesting a code, verifying
// it, opening a dialog) is tried when the server answers 5xx: thousands of
// concurrent logins can meet a transient failure, such as a database
// deadlock, that one more try gets past. A 429 is not retried: it is a
// budget (a number's codes, a user's dialogs) that a quick retry only
// spends. Every retry is counted and reported, so a server that needs
// them is not hidden.
const setupTries = 5

// retry runs step until it succeeds, fails for good or has had setupTries.
func (a *api) retry(ctx context.Context, step func() error) error {
	for try := 1; ; try++ {
		err := step()
		var he *httpError
		if err == nil || try == setupTries || !errors.As(err, &he) || he.status < 500 {
			return err
		}
		a.retried.Add(1)
		if err := sleep(ctx, time.Duration(try)*100*time.Millisecond); err != nil {
			return err
		}
	}
}

// httpError is a non-2xx answer, kept apart so Run can name its status and
// the contract's error code.
type httpError struct {
	op     string
	status int
	code   string
}

func (e *httpError) Error() string {
	if e.code != "" {
		return fmt.Sprintf("%s: HTTP %d %s", e.op, e.status, e.code)
	}
	return fmt.Sprintf("%s: HTTP %d", e.op, e.status)
}

// key names the error in Result.Errors.
func (e *httpError) key() string {
	k := "http_" + strconv.Itoa(e.status)
	if e.code != "" {
		k += "_" + e.code
	}
	return k
}

func (a *api) endpoint(path string) string {
	u := *a.base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawQuery = ""
	return u.String()
}

// call POSTs a JSON body and decodes a JSON answer; want lists the
// statuses that count as success.
func (a *api) call(ctx context.Context, op, path, token string, in, out any, want ...int) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.endpoint(path), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	ok := false
	for _, s := range want {
		ok = ok || resp.StatusCode == s
	}
	if !ok {
		var e struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		_ = json.Unmarshal(raw, &e) // the status alone is enough if the body is not the contract's
		return &httpError{op: op, status: resp.StatusCode, code: e.Error.Code}
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s: decode answer: %w", op, err)
	}
	return nil
}

// login signs a test number in as a shell does: it requests the code
// (a test number gets no SMS; its code is the fixed one) and verifies it.
// Thousands of logins from one address pass the per-address login limits
// only when the server exempts loopback (KOROBKA_LOOPBACK_UNLIMITED).
func (a *api) login(ctx context.Context, phone, code string) (user, error) {
	var sent struct {
		Phone string `json:"phone"`
	}
	err := a.retry(ctx, func() error {
		return a.call(ctx, "code for "+phone, "/v1/auth/otp", "", map[string]string{"phone": phone}, &sent, http.StatusOK)
	})
	if err != nil {
		return user{}, err
	}
	var out struct {
		AccessToken string `json:"access_token"`
		User        struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	in := map[string]string{"phone": phone, "code": code}
	err = a.retry(ctx, func() error {
		return a.call(ctx, "login "+phone, "/v1/auth/verify", "", in, &out, http.StatusOK)
	})
	if err != nil {
		return user{}, err
	}
	if out.AccessToken == "" || out.User.ID == "" {
		return user{}, fmt.Errorf("login %s: answer lacks access_token or user.id", phone)
	}
	return user{id: out.User.ID, token: out.AccessToken}, nil
}

// openedDialog is what the generator needs of a dialog: its id and its
// last seq (0 for none), where this run's seqs start from.
type openedDialog struct {
	id      string
	lastSeq int64
}

// openDialog gets or creates the direct dialog of from with peer.
func (a *api) openDialog(ctx context.Context, from user, peer string) (d openedDialog, err error) {
	err = a.retry(ctx, func() error {
		d, err = a.postDialog(ctx, "create dialog", from, map[string]any{"user_id": peer})
		return err
	})
	return d, err
}

// createGroup creates a group owned by from with the other members given.
// It is tried again like the idempotent steps: a 5xx answer (a deadlock,
// typically) means nothing was created, and should a try that did create
// one still have failed, the extra group only stays unused.
func (a *api) createGroup(ctx context.Context, from user, title string, members []string) (d openedDialog, err error) {
	err = a.retry(ctx, func() error {
		d, err = a.postDialog(ctx, "create group", from, map[string]any{"kind": "group", "title": title, "member_ids": members})
		return err
	})
	return d, err
}

func (a *api) postDialog(ctx context.Context, op string, from user, in map[string]any) (openedDialog, error) {
	var out struct {
		ID          string `json:"id"`
		LastMessage *struct {
			Seq int64 `json:"seq"`
		} `json:"last_message"`
	}
	if err := a.call(ctx, op, "/v1/dialogs", from.token, in, &out, http.StatusOK, http.StatusCreated); err != nil {
		return openedDialog{}, err
	}
	if out.ID == "" {
		return openedDialog{}, errors.New(op + ": answer lacks id")
	}
	d := openedDialog{id: out.ID}
	if out.LastMessage != nil {
		d.lastSeq = out.LastMessage.Seq
	}
	return d, nil
}

// wsURL turns the base URL into the WebSocket endpoint.
func wsURL(base *url.URL) string {
	u := *base
	if u.Scheme == "https" {
		u.Scheme = "wss"
	} else {
		u.Scheme = "ws"
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/ws"
	u.RawQuery = ""
	return u.String()
}

// dial opens one user's WebSocket. The token goes in the Authorization
// header rather than the query so it stays out of server access logs.
func dial(ctx context.Context, d *websocket.Dialer, endpoint, token string) (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	h := http.Header{"Authorization": {"Bearer " + token}}
	conn, resp, err := d.DialContext(ctx, endpoint, h)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		if resp != nil {
			return nil, &httpError{op: "open websocket", status: resp.StatusCode}
		}
		return nil, fmt.Errorf("open websocket: %w", err)
	}
	return conn, nil
}

// errorKey names an error for Result.Errors.
func errorKey(err error) string {
	var he *httpError
	var ce *websocket.CloseError
	switch {
	case errors.As(err, &he):
		return he.key()
	case errors.As(err, &ce):
		return "close_" + strconv.Itoa(ce.Code)
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	s := err.Error()
	switch {
	case strings.Contains(s, "too many open files"):
		return "too_many_open_files"
	case strings.Contains(s, "connection refused"):
		return "connection_refused"
	case strings.Contains(s, "connection reset"):
		return "connection_reset"
	}
	return "io_error"
}

// forEach runs fn for 0..n-1 on at most workers goroutines and stops at
// the first error, which it returns; setup calls are bounded this way so a
// big run neither serialises its logins nor opens thousands at once.
func forEach(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if ctx.Err() == nil {
		return nil
	}
	return context.Cause(ctx)
}

// phone is the test number of user i.
func phone(prefix string, i int) string {
	s := strconv.Itoa(i + 1)
	return prefix + strings.Repeat("0", phoneLen-len(prefix)-len(s)) + s
}
