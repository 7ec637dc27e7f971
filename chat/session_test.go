package chat_test

import (
	"context"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
)

// closes returns the close envelopes published to a user's topic so far.
func closes(t *testing.T, u *user) []event {
	t.Helper()
	var out []event
	for _, e := range u.events.of(t, "") {
		if !chat.IsFrame(e.Kind) {
			out = append(out, e)
		}
	}
	return out
}

// TestEveryEndingOfASessionClosesItsSockets: however a session ends
// (logout, a reused refresh token, EndUserSessions for a block or a role
// change), its tokens die and a close envelope goes to the user's topic,
// which every node holding a socket of the user hears.
func TestEveryEndingOfASessionClosesItsSockets(t *testing.T) {
	f := newTestService(t)
	ctx := context.Background()

	t.Run("logout", func(t *testing.T) {
		ann := f.newUser(t, "Ann")
		if err := f.svc.Logout(ctx, ann.p); err != nil {
			t.Fatal(err)
		}
		if cs := closes(t, ann); len(cs) != 1 || cs[0].Kind != chat.EnvCloseFamily || cs[0].Origin != ann.p.Family {
			t.Errorf("closes %+v, want one of family %d", cs, ann.p.Family)
		}
	})

	t.Run("refresh token reused", func(t *testing.T) {
		bob := f.newUser(t, "Bob")
		next, err := f.svc.Refresh(ctx, bob.auth.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		if cs := closes(t, bob); len(cs) != 0 {
			t.Fatalf("a refresh closed sockets: %+v", cs)
		}
		_, err = f.svc.Refresh(ctx, bob.auth.RefreshToken) // the stolen copy
		wantErr(t, "reuse", err, chat.ErrTokenReused)
		if cs := closes(t, bob); len(cs) != 1 || cs[0].Kind != chat.EnvCloseFamily || cs[0].Origin != bob.p.Family {
			t.Errorf("closes %+v, want one of family %d", cs, bob.p.Family)
		}
		_, err = f.svc.Authenticate(ctx, next.AccessToken)
		wantErr(t, "the thief's refreshed access token", err, chat.ErrInvalidToken)
	})

	t.Run("EndUserSessions", func(t *testing.T) {
		cat := f.newUser(t, "Cat")
		other := f.newUser(t, "Dan")
		// A second login of the same number: another family. The code is
		// requested first, as for any number.
		if _, err := f.svc.RequestCode(ctx, cat.phone, "127.0.0.1"); err != nil {
			t.Fatal(err)
		}
		second, err := f.svc.Verify(ctx, cat.phone, testCode, "127.0.0.1", "laptop")
		if err != nil {
			t.Fatal(err)
		}
		if err := f.svc.EndUserSessions(ctx, cat.id); err != nil {
			t.Fatal(err)
		}
		if cs := closes(t, cat); len(cs) != 1 || cs[0].Kind != chat.EnvCloseUser {
			t.Errorf("closes %+v, want one close of every connection", cs)
		}
		for _, tok := range []string{cat.auth.AccessToken, second.AccessToken} {
			_, err := f.svc.Authenticate(ctx, tok)
			wantErr(t, "a token of the ended user", err, chat.ErrInvalidToken)
		}
		_, err = f.svc.Refresh(ctx, second.RefreshToken)
		wantErr(t, "refreshing after EndUserSessions", err, chat.ErrInvalidToken)
		if _, err := f.svc.Authenticate(ctx, other.auth.AccessToken); err != nil {
			t.Errorf("another user's session ended too: %v", err)
		}
		if cs := closes(t, other); len(cs) != 0 {
			t.Errorf("another user's sockets were closed: %+v", cs)
		}
	})
}

// TestPrincipalKnowsItsExpiry: the gateway closes a socket when the access
// token that opened it expires, so Authenticate says when that is.
func TestPrincipalKnowsItsExpiry(t *testing.T) {
	f := newTestService(t)
	ann := f.newUser(t, "Ann")
	now := f.clock.Now()
	p, err := f.svc.Authenticate(context.Background(), ann.auth.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if d := p.ExpiresAt.Sub(now); d <= chat.DefaultAccessTTL-time.Minute || d > chat.DefaultAccessTTL {
		t.Errorf("expires in %v, want about %v", d, chat.DefaultAccessTTL)
	}
}
